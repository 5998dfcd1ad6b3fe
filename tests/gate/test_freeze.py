"""The freeze end to end, against a real exporter in Kubernetes mode (the API double holds its
Deployment, and authorizes from the exporter's Role and the argocd-gate component's), Debian's
Prometheus and the Loki double: a failed watch freezes the site; the next gate fails naming the
freeze, through /status and through Prometheus, also after an exporter restart; an override
passes and leaves its audit record in Loki, the JSONL file and an Event; unfreeze lifts it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from exporter.freeze import FREEZE_REASON, FROZEN_BY, FROZEN_SINCE
from tests.gate.conftest import Site, site_config
from tests.support.exporter_process import command_env, free_port, running_exporter, wait_until
from tests.support.kube_api import BASE_ROLE, REPO, KubeApiDouble
from tests.support.loki_double import loki_double
from tests.support.monitoring import running_prometheus
from tests.support.reports import load_schema

GATE_ROLE = REPO / "k8s" / "components" / "argocd-gate" / "rbac.yaml"


@contextlib.contextmanager
def kube_site(tmp_path: Path, api: KubeApiDouble) -> Iterator[Site]:
    tmp_path.mkdir(exist_ok=True)
    config, marker = site_config(tmp_path, "shop")
    document = yaml.safe_load(config.read_text())
    document["kubernetes"] = api.settings(
        maintenance_poll_interval="0.3s",
        discovery={"services": False, "ingresses": False},
        events={"enabled": False},
    )
    config.write_text(yaml.safe_dump(document))
    with running_exporter(config, tmp_path / "shop") as exporter:
        site = Site("shop", exporter, marker)
        wait_until(lambda: site.status() == "OK", timeout=20, interval=0.1)
        yield site


def gate_in_cluster(api: KubeApiDouble, *args: str) -> subprocess.CompletedProcess[str]:
    """The gate as a Job's pod runs it: the service account's files, the API server's URL."""
    env = {
        **command_env(),
        "SITE_STATUS_KUBERNETES__API_URL": api.url,
        "SITE_STATUS_KUBERNETES__SERVICE_ACCOUNT_DIR": str(api.account_dir),
        "GITLAB_USER_LOGIN": "pipeline-7",
    }
    env.pop("SITE_STATUS_AUDIT_LOKI", None)
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", "gate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def deployment_annotations(api: KubeApiDouble) -> dict[str, Any]:
    deployment = api.get("apps", "deployments", "site-status")
    assert deployment is not None
    return dict(deployment["metadata"].get("annotations") or {})


def test_a_failed_watch_freezes_until_unfrozen_and_an_override_is_recorded(
    tmp_path: Path,
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    with (
        KubeApiDouble(tmp_path / "api", roles=(BASE_ROLE, GATE_ROLE)) as api,
        loki_double() as loki,
    ):
        api.put("apps", "deployments", {"metadata": {"name": "site-status"}})
        audit = ("--loki", loki.url, "--audit-file", str(audit_file))
        with kube_site(tmp_path, api) as shop:
            url = shop.exporter.url
            # 1. A rollout breaks the site: the watch fails and freezes it.
            shop.fail()
            watched = gate_in_cluster(
                api, "--url", url, "--watch", "20s", "--grace", "1s", "--poll", "200ms", *audit
            )
            assert watched.returncode == 1, watched.stdout + watched.stderr
            assert "froze shop (deployment site/site-status)" in watched.stderr
            frozen = deployment_annotations(api)
            assert frozen[FROZEN_BY] == "pipeline-7"
            assert frozen[FREEZE_REASON].startswith("failed watch: degraded after ")
            assert frozen[FROZEN_SINCE].endswith("Z")
            shop.heal()
            wait_until(lambda: shop.exporter.status()["freeze"] is not None, timeout=10)
            wait_until(lambda: shop.status() == "OK", timeout=10)

        # 2. The freeze outlives the exporter: a new one reads it from the Deployment.
        with kube_site(tmp_path / "again", api) as shop:
            url = shop.exporter.url
            wait_until(lambda: shop.exporter.status()["freeze"] is not None, timeout=10)
            series = shop.exporter.metrics()
            assert series[("site_status_frozen", ())] == 1.0
            assert ("site_status_freeze_info", (("reason", frozen[FREEZE_REASON][:100]),)) in series

            # 3. The next gate, healthy site or not, fails naming the freeze: via /status...
            blocked = gate_in_cluster(api, "--url", url)
            assert blocked.returncode == 1, blocked.stdout + blocked.stderr
            first, line = blocked.stdout.splitlines()
            assert first.startswith("GATE FAIL - 1 of 1 site(s) frozen: shop (frozen since ")
            assert "by pipeline-7: failed watch: degraded after" in first
            assert line.startswith("shop FROZEN - frozen since ")

            # ... and through Debian's Prometheus.
            prometheus_dir = tmp_path / "prometheus"
            prometheus_dir.mkdir()
            with running_prometheus(
                prometheus_dir,
                [url.removeprefix("http://")],
                [],
                f"127.0.0.1:{free_port()}",
                interval="1s",
            ) as prometheus:
                wait_until(
                    lambda: (
                        [r["value"][1] for r in prometheus.query("site_status_frozen")] == ["1"]
                    ),
                    timeout=30,
                )
                through = gate_in_cluster(api, "--prometheus", prometheus.url)
            assert through.returncode == 1, through.stdout + through.stderr
            assert through.stdout.startswith("GATE FAIL - 1 of 1 site(s) frozen: shop (frozen")
            assert "failed watch: degraded after" in through.stdout

            # 4. A critical fix goes out anyway, on the record.
            override = gate_in_cluster(
                api, "--url", url, "--override", "hotfix INC-42", "--by", "alice", *audit
            )
            assert override.returncode == 0, override.stdout + override.stderr
            assert override.stdout.startswith(
                "GATE OK - overridden by alice: hotfix INC-42 (was: 1 of 1 site(s) frozen: shop"
            )
            assert deployment_annotations(api)[FROZEN_SINCE] == frozen[FROZEN_SINCE]  # still frozen

            # 5. The cause is found: unfreeze lifts it, and the gate passes again.
            lifted = gate_in_cluster(
                api, "unfreeze", "--url", url, "--reason", "INC-42 fixed", "--by", "bob", *audit
            )
            assert lifted.returncode == 0, lifted.stdout + lifted.stderr
            assert lifted.stdout == (
                "UNFROZEN shop (deployment site/site-status) by bob: INC-42 fixed\n"
            )
            assert FROZEN_SINCE not in deployment_annotations(api)
            wait_until(lambda: shop.exporter.status()["freeze"] is None, timeout=10)
            passed = gate_in_cluster(api, "--url", url)
            assert passed.returncode == 0, passed.stdout + passed.stderr

    # The audit trail: Loki, the file, and Events about the Deployment.
    in_loki = [r for r in loki.reports() if r["report_type"] == "audit"]
    assert [(r["action"], r["by"]) for r in in_loki] == [
        ("freeze", "pipeline-7"),
        ("override", "alice"),
        ("unfreeze", "bob"),
    ]
    override_record = in_loki[1]
    assert override_record["reason"] == "hotfix INC-42"
    assert override_record["overridden"].startswith("1 of 1 site(s) frozen: shop")
    for record in in_loki:
        jsonschema.validate(record, load_schema())
    streams = {e.labels for e in loki.stored() if '"audit"' in e.line}
    assert streams == {
        (
            ("environment", "prod"),
            ("job", "site-status"),
            ("report_type", "audit"),
            ("site", "shop"),
            ("tier", "priprod"),
        )
    }
    in_file = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert [r["action"] for r in in_file] == ["freeze", "override", "unfreeze"]
    events = [(e["reason"], e["type"], e["note"]) for e in api.events]
    assert [(reason, kind) for reason, kind, _ in events] == [
        ("Frozen", "Warning"),
        ("GateOverridden", "Warning"),
        ("Unfrozen", "Normal"),
    ]
    assert events[1][2].startswith("gate overridden by alice: hotfix INC-42 (overrode: ")
    assert all(e["regarding"]["name"] == "site-status" for e in api.events)
    assert all(e["reportingController"] == "site-status.io/gate" for e in api.events)


def test_an_override_that_cannot_be_recorded_is_not_granted(tmp_path: Path) -> None:
    with kube_site_free(tmp_path) as url:
        env = {**command_env()}
        env.pop("KUBERNETES_SERVICE_HOST", None)
        env["KUBECONFIG"] = str(tmp_path / "no-kubeconfig")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "exporter.cli",
                "gate",
                "--url",
                url,
                "--window",
                "2020-01-01",
                "--override",
                "hotfix",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(
        "GATE FAIL - override not recorded, so not granted: outside deploy window "
        "(next: none within a year)"
    )
    assert "nowhere to record the override: give --loki or --audit-file" in done.stderr


@contextlib.contextmanager
def kube_site_free(tmp_path: Path) -> Iterator[str]:
    from tests.gate.conftest import running_site

    with running_site(tmp_path, "shop") as shop:
        yield shop.exporter.url
