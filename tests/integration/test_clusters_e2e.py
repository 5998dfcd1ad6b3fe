"""Many clusters, one view: two cluster Prometheus servers and a shared store, all Debian's.

Clusters ``test`` and ``prod`` each run the same two sites (``shop``, ``campus``) as real
exporters whose targets carry the same ``instance`` in both clusters (as pod IPs do when two
clusters use the default pod CIDR). Each cluster's Prometheus has ``external_labels: {cluster}``,
evaluates the generated rules, sends its alerts to one real Alertmanager and remote-writes its
scraped series (not its rule results) to a third Prometheus running with
``--web.enable-remote-write-receiver`` (the protocol Thanos Receive and Mimir accept), which
evaluates the same rules centrally (docs/clusters.md); a fourth federates from both
(docs/clusters/federation.yml). Then ``shop`` fails in ``test`` only.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from pathlib import Path
from typing import Any

import yaml

from mixin.alertmanager import alertmanager_config
from mixin.config import MixinConfig
from tests.gate.conftest import Site, gate, running_site
from tests.gate.test_gate_prometheus import analysis_result
from tests.integration.test_alerting_e2e import alertmanager_settings
from tests.mixin.dashboard_queries import all_of, dashboards, interpolate, panels
from tests.support.exporter_process import wait_until
from tests.support.monitoring import (
    Prometheus,
    WebhookReceiver,
    prometheus_with_config,
    running_alertmanager,
    webhook_receiver,
    write_rule_files,
)

SHIPPED = Path(__file__).resolve().parents[2] / "docs" / "clusters"
CLUSTERS = ("test", "prod")
SITES = ("shop", "campus")
#: The same target address in both clusters, per site.
INSTANCES = {"shop": "10.42.0.7:9918", "campus": "10.42.0.8:9918"}
#: What the cluster Prometheus servers do not send: the results of their own rules (the shared
#: store evaluates the same rules; both at once would write the same series twice).
RULE_RESULTS = {
    "source_labels": ["__name__"],
    "regex": "ALERTS|ALERTS_FOR_STATE|.+:.+",
    "action": "drop",
}


def write_rules(workdir: Path) -> list[Path]:
    config = MixinConfig(state_interval="1s", window_interval="1s").with_all_for("1s")
    return write_rule_files(workdir, config)


def cluster_config(
    cluster: str, sites: dict[str, Site], rules: list[Path], alertmanager: str, store: str
) -> dict[str, Any]:
    """A cluster's Prometheus as docs/clusters/ ships it, for tests: it evaluates the rules
    (as cluster-prometheus.yml) and sends only scraped series (as
    cluster-prometheus-central-rules.yml), so that the store can evaluate them too."""
    shipped = yaml.safe_load((SHIPPED / "cluster-prometheus-central-rules.yml").read_text())
    assert shipped["global"]["external_labels"] == {"cluster": "prod-a"}
    targets = [
        {
            "targets": [site.exporter.url.removeprefix("http://")],
            # The pod IP, equal across clusters: only the cluster tells the targets apart.
            "labels": {"__tmp_instance": INSTANCES[name]},
        }
        for name, site in sites.items()
    ]
    # Labels starting with __ are dropped after relabelling.
    keep_address_as_instance = [{"source_labels": ["__tmp_instance"], "target_label": "instance"}]
    (remote_write,) = shipped["remote_write"]
    assert remote_write["write_relabel_configs"] == [RULE_RESULTS]
    return {
        "global": {
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
            "external_labels": {"cluster": cluster},
        },
        "rule_files": [str(path) for path in rules],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {
                "job_name": "site-status",
                "static_configs": targets,
                "relabel_configs": keep_address_as_instance,
            }
        ],
        "remote_write": [
            {
                "url": f"{store}/api/v1/write",
                "write_relabel_configs": [RULE_RESULTS],
                "queue_config": {"batch_send_deadline": "200ms", "min_backoff": "100ms"},
            }
        ],
    }


def federation_config(clusters: dict[str, Prometheus]) -> dict[str, Any]:
    """docs/clusters/federation.yml with these clusters' Prometheus servers as its targets."""
    config: dict[str, Any] = yaml.safe_load((SHIPPED / "federation.yml").read_text())
    (job,) = config["scrape_configs"]
    job["scrape_interval"] = "1s"
    job["static_configs"] = [
        {"targets": [p.url.removeprefix("http://") for p in clusters.values()]}
    ]
    return config


def store_config(rules: list[Path]) -> dict[str, Any]:
    return {
        "global": {"evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rules],
    }


def alert_set(alerts: list[dict[str, Any]], external: dict[str, str]) -> set[str]:
    """Firing alerts as comparable text: labels (with the Prometheus's external labels, as
    Alertmanager gets them) and rendered annotations."""
    return {
        json.dumps(
            {"labels": {**external, **a["labels"]}, "annotations": a["annotations"]},
            sort_keys=True,
        )
        for a in alerts
        if a["state"] == "firing"
    }


def site_critical(alerts: set[str]) -> set[tuple[str, str]]:
    found = set()
    for text in alerts:
        labels = json.loads(text)["labels"]
        if labels["alertname"] == "SiteStatusSiteCritical":
            found.add((labels["cluster"], labels["site"]))
    return found


def paged(receiver: WebhookReceiver) -> set[tuple[str, str]]:
    return {
        (alert["labels"].get("cluster", ""), alert["labels"]["site"])
        for _, status, alert in receiver.alerts_to("pager", alertname="SiteStatusSiteCritical")
        if status == "firing"
    }


def test_two_clusters_one_store(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(webhook_receiver())
        routing = alertmanager_config(alertmanager_settings(receiver))
        (tmp_path / "am").mkdir()
        alertmanager = stack.enter_context(running_alertmanager(tmp_path / "am", routing))
        rules = write_rules(tmp_path)
        store = stack.enter_context(
            prometheus_with_config(
                tmp_path / "store", store_config(rules), "--web.enable-remote-write-receiver"
            )
        )
        sites: dict[str, dict[str, Site]] = {}
        clusters: dict[str, Prometheus] = {}
        for cluster in CLUSTERS:
            (tmp_path / cluster).mkdir()
            sites[cluster] = {
                name: stack.enter_context(running_site(tmp_path / cluster, name, cluster=cluster))
                for name in SITES
            }
            config = cluster_config(cluster, sites[cluster], rules, alertmanager, store.url)
            clusters[cluster] = stack.enter_context(
                prometheus_with_config(tmp_path / cluster / "prometheus", config)
            )

        def everywhere_up() -> bool:
            received = store.query("count by (cluster) (up == 1)")
            return all(c.targets_up() == 2 for c in clusters.values()) and {
                r["metric"].get("cluster"): r["value"][1] for r in received
            } == {"test": "2", "prod": "2"}

        federation = stack.enter_context(
            prometheus_with_config(tmp_path / "federation", federation_config(clusters))
        )
        wait_until(everywhere_up, timeout=30, interval=0.3)
        # The same instance in both clusters: a join on job, instance alone would mix them.
        assert {r["metric"]["instance"] for r in store.query("up")} == set(INSTANCES.values())
        assert sites["test"]["shop"].exporter.status()["site"]["cluster"] == "test"

        sites["test"]["shop"].fail()

        def evaluated_alike() -> bool:
            central = alert_set(store.alerts(), {})
            per_cluster = set().union(
                *(alert_set(p.alerts(), {"cluster": c}) for c, p in clusters.items())
            )
            return site_critical(central) == {("test", "shop")} and central == per_cluster

        wait_until(evaluated_alike, timeout=20, interval=0.3)
        wait_until(lambda: paged(receiver) == {("test", "shop")}, timeout=15, interval=0.3)

        check_dashboards(store)
        # The Argo Rollouts analysis: per cluster on the store; its default (no cluster) finds
        # nothing there rather than mixing the two shops, and is right on a cluster's own.
        analysis = {c: analysis_result(store, site="shop", cluster=c) for c in (*CLUSTERS, "")}
        analysis["test's own"] = analysis_result(clusters["test"], site="shop")

        url = store.url
        prod = gate("--prometheus", url, "--match", 'cluster="prod"')
        test = gate("--prometheus", url, "--match", 'cluster="test"')
        everything = gate("--prometheus", url)
        promotion = gate(
            "--prometheus", url, "--match", 'cluster="prod"', "--promote-from", 'cluster="test"'
        )
        healthy_first = gate(
            "--prometheus", url, "--match", 'cluster="test"', "--promote-from", 'cluster="prod"'
        )
        # Shape 3, plain federation: the same answers from the federating Prometheus.
        federated = [
            gate("--prometheus", federation.url, "--match", f'cluster="{c}"') for c in CLUSTERS
        ]
        # Nothing else paged meanwhile: prod's shop (same name, same instance) never did.
        assert paged(receiver) == {("test", "shop")}

    assert analysis == {"test": [2.0], "prod": [0.0], "": [], "test's own": [2.0]}
    assert prod.returncode == 0, prod.stdout + prod.stderr
    assert prod.stdout.splitlines() == ["GATE OK - 2 site(s) at most OK"]
    assert test.returncode == 1, test.stdout + test.stderr
    assert test.stdout.splitlines()[0] == "GATE FAIL - 1 of 2 site(s) above OK: shop@test"
    assert everything.stdout.splitlines()[0] == "GATE FAIL - 1 of 4 site(s) above OK: shop@test"
    assert promotion.returncode == 1, promotion.stdout
    assert promotion.stdout.splitlines()[:2] == [
        "GATE FAIL - 1 of 2 site(s) above OK: shop@test",
        "shop@test CRITICAL - release-marker CRITICAL",
    ]
    assert healthy_first.returncode == 0, healthy_first.stdout
    assert [g.stdout.splitlines()[0] for g in federated] == [
        "GATE FAIL - 1 of 2 site(s) above OK: shop@test",
        "GATE OK - 2 site(s) at most OK",
    ]


def check_dashboards(store: Prometheus) -> None:
    """Every Prometheus query of both dashboards, asked of the shared store for each cluster:
    each answers, and every series it returns is of that cluster (or carries no cluster: the
    fleet's counts); the fleet's site tiles, with every cluster, show each site once per
    cluster."""
    short = {"__interval": "1s", "__rate_interval": "4s", "__range": "1m", "__auto": "1s"}
    checked = 0
    statuses: dict[str, dict[tuple[str, str], float]] = {}
    for cluster in CLUSTERS:
        choices = {
            "site-status-fleet.json": {
                "cluster": cluster,
                "environment": ".*",
                "tier": ".*",
                "profile": ".*",
            },
            "site-status-site.json": {"cluster": cluster, "environment": "prod", "site": "shop"},
        }
        for name, document in dashboards().items():
            values = {**short, **choices[name]}
            for variable in document["templating"]["list"]:
                if variable["type"] == "query" and variable["name"] not in values:
                    match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
                    assert match, variable
                    selector, label = match.groups()
                    found = store.label_values(label, interpolate(selector, values))
                    values[variable["name"]] = all_of(found)
            for panel in panels(document):
                for target in panel.get("targets", []):
                    if target["datasource"]["type"] != "prometheus":
                        continue
                    result = store.query(interpolate(target["expr"], values))
                    clusters = {r["metric"].get("cluster", "") for r in result}
                    assert clusters <= {cluster, ""}, (panel["title"], clusters)
                    checked += 1
                    if panel["title"] == "Sites" and name == "site-status-fleet.json":
                        statuses[cluster] = {
                            (r["metric"]["cluster"], r["metric"]["site"]): float(r["value"][1])
                            for r in result
                        }
                    if panel["title"] == "Site status":
                        want = 2.0 if cluster == "test" else 0.0
                        assert [float(r["value"][1]) for r in result] == [want], cluster
    assert checked >= 60
    assert statuses == {
        "test": {("test", "shop"): 2.0, ("test", "campus"): 0.0},
        "prod": {("prod", "shop"): 0.0, ("prod", "campus"): 0.0},
    }
    fleet = dashboards()["site-status-fleet.json"]
    tiles = next(p for p in panels(fleet) if p["title"] == "Sites")["targets"][0]["expr"]
    every = {**short, "cluster": ".*", "environment": ".*", "tier": ".*", "profile": ".*"}
    shown = {
        (r["metric"]["cluster"], r["metric"]["site"]): float(r["value"][1])
        for r in store.query(interpolate(tiles, every))
    }
    assert shown == {**statuses["test"], **statuses["prod"]}
    assert not any(math.isnan(v) for v in shown.values())
