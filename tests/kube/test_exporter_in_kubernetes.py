"""``site-status run`` in Kubernetes mode against the API server double, end to end.

Discovery keeps the probes current through a watch with a 410 Gone in the middle; invalid
annotations are UNKNOWN with the reason; removed services stop being probed and their series
go; the Deployment's annotation declares maintenance; the site turning CRITICAL and back makes
Events; the static probes of the config run beside the discovered ones throughout. At the end,
the requests made are exactly what the base Role grants: nothing more is needed, nothing less
is used.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exporter.kube_client import permissions
from tests.support.exporter_process import RunningExporter, running_exporter, wait_until
from tests.support.http_server import MisbehavingServer, misbehaving_server
from tests.support.kube_api import KubeApiDouble

STATUS = "site_status_probe_status"


@pytest.fixture
def backend() -> Iterator[MisbehavingServer]:
    with misbehaving_server() as server:
        server.route("/healthz", body="ok")
        server.route("/broken", status=503, body="down")
        yield server


def web_service(port: int, path: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "annotations": {"site-status.io/probe": "true", "site-status.io/path": path},
        },
        "spec": {"clusterIP": "127.0.0.1", "ports": [{"name": "http", "port": port}]},
    }


def status_of(exporter: RunningExporter, probe: str, kind: str) -> float | None:
    return exporter.metrics().get((STATUS, (("kind", kind), ("probe", probe))))


def unknown_after_a_run(exporter: RunningExporter, probe: str) -> bool:
    """UNKNOWN in /metrics and /status from a result: a probe with no result yet ("no result
    yet") is UNKNOWN too, and on a loaded machine its first run may come late."""
    entry = next((p for p in exporter.status()["probes"] if p["name"] == probe), None)
    return (
        entry is not None
        and entry["last_run"] is not None
        and entry["status"] == "UNKNOWN"
        and status_of(exporter, probe, "discovery") == 3
    )


def start(
    tmp_path: Path,
    api: KubeApiDouble,
    ingresses: bool = False,
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
    interval: str = "5s",
) -> Any:
    """By default 5 s runs and timeouts (a timeout is capped by the interval): an HTTP probe
    that timed out on a loaded machine is CRITICAL, which would make an Event of its own.
    A discovered probe that changes starts again at once, whatever its interval."""
    config = tmp_path / "site.yaml"
    settings = api.settings(
        maintenance_poll_interval="0.3s",
        # The backend is on loopback, which discovery refuses unless the config allows it.
        discovery={
            "address": "cluster-ip",
            "ingresses": ingresses,
            "allowed_hosts": list(allowed_hosts),
        },
        events={"min_interval": "1s", "check_interval": "0.2s"},
    )
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: shop, tier: priprod}}
            reports: {{file: {tmp_path}/reports.jsonl}}
            defaults: {{interval: {interval}, timeout: {interval}}}
            kubernetes: {json.dumps(settings)}
            # Limits no machine reaches: the site's status must come from what is discovered.
            probes:
              - {{name: static-load, kind: load, load5: {{warning: 1000, critical: 2000}}}}
            """
        )
    )
    return running_exporter(config, tmp_path)


def test_discovery_events_and_maintenance(tmp_path: Path, backend: MisbehavingServer) -> None:
    with KubeApiDouble(tmp_path / "api") as api:
        api.put("apps", "deployments", {"metadata": {"name": "site-status"}})
        api.put("", "services", web_service(backend.port, "/healthz"))
        api.put("", "services", {"metadata": {"name": "db"}, "spec": {"ports": []}})
        with start(tmp_path, api) as exporter:
            wait_until(lambda: status_of(exporter, "service/web", "http") == 0, timeout=15)
            assert status_of(exporter, "static-load", "load") is not None
            assert status_of(exporter, "service/db", "http") is None  # not annotated

            # An invalid annotation: UNKNOWN with the reason, and a log line.
            bad = web_service(backend.port, "healthz")
            bad["metadata"]["name"] = "bad"
            api.put("", "services", bad)
            wait_until(lambda: unknown_after_a_run(exporter, "service/bad"), timeout=10)
            reason = "service/bad: site-status.io/path must start with /, not 'healthz'"
            assert exporter.probe("service/bad")["summary"] == reason
            assert reason in exporter.log_text()
            api.delete("", "services", "bad")

            # A 410 Gone in the middle of the watch: the exporter lists again and goes on.
            wait_until(lambda: api.open_watches == 1, timeout=10)
            api.expire_watches()
            api.put("", "services", web_service(backend.port, "/broken"))
            wait_until(lambda: status_of(exporter, "service/web", "http") == 2, timeout=10)
            assert (
                len(
                    [
                        r
                        for r in api.requests
                        if r.path.endswith("/services") and not r.query.get("watch")
                    ]
                )
                == 2
            )

            # The site turned CRITICAL: a Warning Event about the Deployment.
            uid = api.get("apps", "deployments", "site-status")["metadata"]["uid"]  # type: ignore[index]
            wait_until(lambda: [e["reason"] for e in api.events] == ["SiteCritical"], timeout=10)
            critical = api.events[0]
            assert critical["type"] == "Warning"
            assert critical["regarding"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "site-status",
                "namespace": "site",
                "uid": uid,
            }
            assert "service/web" in critical["note"] and "503" in critical["note"]

            # Removed: no longer probed, its series gone; the site recovers with an Event.
            api.delete("", "services", "web")
            wait_until(lambda: status_of(exporter, "service/web", "http") is None, timeout=10)
            assert not [k for k in exporter.metrics() if ("probe", "service/web") in k[1]]
            assert status_of(exporter, "static-load", "load") is not None
            wait_until(lambda: len(api.events) == 2, timeout=10)
            assert api.events[1]["reason"] == "SiteRecovered"
            assert api.events[1]["type"] == "Normal"

            # Maintenance from the Deployment's annotation, while it lasts.
            assert exporter.metrics()["site_status_maintenance", ()] == 0
            until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            api.put(
                "apps",
                "deployments",
                {
                    "metadata": {
                        "name": "site-status",
                        "annotations": {"site-status.io/maintenance-until": until},
                    }
                },
            )
            wait_until(lambda: exporter.metrics()["site_status_maintenance", ()] == 1, timeout=10)
            assert exporter.status()["maintenance"] is True
            api.put(
                "apps",
                "deployments",
                {
                    "metadata": {
                        "name": "site-status",
                        "annotations": {"site-status.io/maintenance-until": "next week"},
                    }
                },
            )
            wait_until(lambda: exporter.metrics()["site_status_maintenance", ()] == 0, timeout=10)
            wait_until(lambda: unknown_after_a_run(exporter, "deployment/site-status"), timeout=10)
            assert "not an RFC 3339 time" in exporter.probe("deployment/site-status")["summary"]

        used = {permissions.Permission(*p) for p in api.permissions_used()}
        assert used == permissions.BASE - {
            permissions.Permission("networking.k8s.io", "ingresses", "list"),
            permissions.Permission("networking.k8s.io", "ingresses", "watch"),
        }
        assert all(r.code != 403 for r in api.requests)


def test_ingresses_are_discovered_too(tmp_path: Path, backend: MisbehavingServer) -> None:
    with KubeApiDouble(tmp_path / "api") as api:
        api.put(
            "networking.k8s.io",
            "ingresses",
            {
                "metadata": {
                    "name": "shop",
                    "annotations": {
                        "site-status.io/probe": "true",
                        "site-status.io/port": str(backend.port),
                        "site-status.io/path": "/healthz",
                    },
                },
                "spec": {"rules": [{"host": "localhost"}]},
            },
        )
        with start(tmp_path, api, ingresses=True) as exporter:
            wait_until(lambda: status_of(exporter, "ingress/shop", "http") == 0, timeout=15)
        assert {r.path for r in api.requests if "ingresses" in r.path} == {
            "/apis/networking.k8s.io/v1/namespaces/site/ingresses"
        }
        used = {permissions.Permission(*p) for p in api.permissions_used()}
        assert {p for p in permissions.DISCOVERY if p.resource == "ingresses"} <= used


def test_a_role_without_discovery_rights_is_reported(tmp_path: Path) -> None:
    empty_role = tmp_path / "role.yaml"
    empty_role.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: x}\nrules: []\n"
    )
    with (
        KubeApiDouble(tmp_path / "api", roles=(empty_role,)) as api,
        start(tmp_path, api) as exporter,
    ):
        wait_until(lambda: unknown_after_a_run(exporter, "discovery/services"), timeout=15)
        summary = exporter.probe("discovery/services")["summary"]
        assert "403 Forbidden" in summary and 'cannot list resource "services"' in summary
        wait_until(lambda: unknown_after_a_run(exporter, "deployment/site-status"), timeout=10)


def test_annotations_cannot_send_the_exporter_to_loopback(
    tmp_path: Path, backend: MisbehavingServer
) -> None:
    """Without the config's permission, a Service on loopback, an Ingress whose host is
    ``localhost`` and a ``verify: false`` are UNKNOWN with the reason, and the server behind
    them never gets a request: the exporter forges none for the annotator."""
    with KubeApiDouble(tmp_path / "api") as api:
        api.put("", "services", web_service(backend.port, "/healthz"))  # clusterIP 127.0.0.1
        api.put(
            "networking.k8s.io",
            "ingresses",
            {
                "metadata": {
                    "name": "shop",
                    "annotations": {
                        "site-status.io/probe": "true",
                        "site-status.io/host": "localhost",
                        "site-status.io/port": str(backend.port),
                    },
                },
                "spec": {"rules": [{"host": "shop.example"}]},
            },
        )
        tls_off = web_service(backend.port, "/healthz")
        tls_off["metadata"]["name"] = "insecure"
        tls_off["spec"]["clusterIP"] = "10.96.4.7"
        tls_off["metadata"]["annotations"]["site-status.io/verify"] = "false"
        api.put("", "services", tls_off)
        with start(tmp_path, api, ingresses=True, allowed_hosts=(), interval="0.5s") as exporter:
            for probe in ("service/web", "ingress/shop", "service/insecure"):
                wait_until(lambda p=probe: unknown_after_a_run(exporter, p), timeout=15)
            summaries = {p: exporter.probe(p)["summary"] for p in ("service/web", "ingress/shop")}
            assert "127.0.0.1 is a loopback" in summaries["service/web"]
            assert "'localhost' is not a host of the ingress" in summaries["ingress/shop"]
            assert "allowed_annotations" in exporter.probe("service/insecure")["summary"]
            time.sleep(1.5)  # three probe intervals
        assert backend.requests == []
