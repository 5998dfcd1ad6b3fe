"""The site dashboard's queries cost what one site costs, not what the fleet costs.

A real Prometheus holds a backfilled TSDB of many synthetic sites (``promtool tsdb
create-blocks-from openmetrics``). Each site-dashboard query, with ``$instance`` resolved the
way Grafana does it, must return exactly what the former query (the same expression without the
``instance`` matcher: join on ``site_info{site="$site"}`` only) returns, while loading far fewer
samples (``stats=all``: a count, not a timing).
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.mixin.dashboard_queries import all_of, dashboards, interpolate, panels
from tests.support.monitoring import Prometheus, http_json, running_prometheus

SITES = 200
CHOSEN = 7
STEP = 30  # seconds between samples
HOURS = 1
INSTANCE_MATCHER = ', instance=~"$instance"'

#: Per series family: its sample type, and the label sets of one exporter's series (after job
#: and instance). Names and labels as the panels read them (exporter/web/metrics.py).
PROBES = (("healthz", "http"), ("drupal", "drupal"), ("disk", "filesystem"), ("load", "load"))
FAMILIES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "site_status_site_status": ("gauge", [{}]),
    "site_status_maintenance": ("gauge", [{}]),
    "site_status_probe_status": ("gauge", [{"probe": p, "kind": k} for p, k in PROBES]),
    "site_status_probe_runs": (
        "counter",
        [{"kind": k, "status": s} for _, k in PROBES for s in ("ok", "critical")],
    ),
    "site_status_drupal_requirement_severity": (
        "gauge",
        [{"probe": "drupal", "requirement": r} for r in ("cron", "update_status")],
    ),
    "site_status_drupal_info": (
        "gauge",
        [{"probe": "drupal", "drupal_version": "10.3.1", "php_version": "8.3.9"}],
    ),
    "site_status_disk_available_bytes": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_disk_size_bytes": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_disk_inodes_free": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_disk_inodes": ("gauge", [{"probe": "disk", "mountpoint": "/"}]),
    "site_status_mount_status": ("gauge", [{"probe": "disk", "mountpoint": "/srv"}]),
    "site_status_http_duration_seconds": (
        "gauge",
        [{"probe": "healthz", "phase": p} for p in ("connect", "tls", "wait", "body")],
    ),
    "site_status_tls_cert_expiry_timestamp_seconds": ("gauge", [{"probe": "healthz"}]),
    "site_status_load_average": (
        "gauge",
        [{"probe": "load", "window": w} for w in ("1m", "5m", "15m")],
    ),
    "site_status_load_cpus": ("gauge", [{"probe": "load"}]),
    "site_status_reports_pushed": ("counter", [{}]),
    "site_status_reports_retried": ("counter", [{}]),
    "site_status_reports_dropped": ("counter", [{"reason": r} for r in ("full", "rejected")]),
    "site_status_reports_queued": ("gauge", [{}]),
}


def site(i: int) -> str:
    return f"site-{i:03d}"


def instance(i: int) -> str:
    return f"{site(i)}.example:9400"  # the dot must be escaped in $instance


def labels_text(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def openmetrics(end: int) -> Iterator[str]:
    times = range(end - HOURS * 3600, end + 1, STEP)
    targets = [{"job": "site-status", "instance": instance(i)} for i in range(SITES)]
    yield "# TYPE site_status_site_info gauge\n"
    for i, target in enumerate(targets):
        info = {**target, "site": site(i), "environment": "prod", "tier": "t2", "profile": "x"}
        yield from (f"site_status_site_info{{{labels_text(info)}}} 1 {t}\n" for t in times)
    for name, (kind, label_sets) in FAMILIES.items():
        yield f"# TYPE {name} {kind}\n"
        sample = f"{name}_total" if kind == "counter" else name
        for i, target in enumerate(targets):
            for n, extra in enumerate(label_sets):
                selector = labels_text({**target, **extra})
                for t in times:
                    # Counters rise steadily (a rate per site); gauges vary by site.
                    value = (t - times[0]) * (i + n + 1) / 100 if kind == "counter" else i + n + 1
                    yield f"{sample}{{{selector}}} {value} {t}\n"
    yield "# EOF\n"


@pytest.fixture(scope="module")
def fleet_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, int]]:
    workdir = tmp_path_factory.mktemp("fleet-tsdb")
    end = int(time.time()) // STEP * STEP - 600
    source = workdir / "fleet.om"
    with source.open("w") as out:
        out.writelines(openmetrics(end))
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), "prometheus-data"],
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    source.unlink()
    with running_prometheus(workdir, [], [], "127.0.0.1:9", "1h") as prometheus:
        yield prometheus, end


def query_with_stats(prometheus: Prometheus, expr: str, at: int) -> tuple[Any, int]:
    params = urllib.parse.urlencode({"query": expr, "time": at, "stats": "all"})
    data = http_json(f"{prometheus.url}/api/v1/query?{params}", timeout=30)
    assert data["status"] == "success", data
    result = sorted(data["data"]["result"], key=lambda r: sorted(r["metric"].items()))
    return result, int(data["data"]["stats"]["samples"]["totalQueryableSamples"])


def site_queries() -> list[tuple[str, str]]:
    document = dashboards()["site-status-site.json"]
    return [
        (panel["title"], target["expr"])
        for panel in panels(document)
        for target in panel.get("targets", [])
        if target["datasource"]["type"] == "prometheus"
    ]


def instance_query() -> str:
    document = dashboards()["site-status-site.json"]
    [variable] = [v for v in document["templating"]["list"] if v["name"] == "instance"]
    query: str = variable["query"]["query"]
    return query


def test_every_site_query_loads_only_the_chosen_sites_series(
    fleet_prometheus: tuple[Prometheus, int],
) -> None:
    prometheus, end = fleet_prometheus
    values = {"environment": "prod", "site": site(CHOSEN), "__interval": "30s", "__range": "1h"}
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", instance_query())
    assert match
    found = prometheus.label_values(match.group(2), interpolate(match.group(1), values))
    assert found == [instance(CHOSEN)]
    values["instance"] = all_of(found)

    compared = 0
    for title, expr in site_queries():
        if INSTANCE_MATCHER not in expr:
            # The ratio panels read recording rules keyed by site labels: cheap already.
            assert "site_status_site:" in expr, (title, expr)
            continue
        old_expr = interpolate(expr.replace(INSTANCE_MATCHER, ""), values, rate_interval="2m")
        new_expr = interpolate(expr, values, rate_interval="2m")
        old, old_samples = query_with_stats(prometheus, old_expr, end)
        new, new_samples = query_with_stats(prometheus, new_expr, end)
        assert new == old, (title, new_expr)
        assert new, (title, new_expr)  # the synthetic fleet has data for every panel
        # (Healthz latency sums by probe: no site label left, the join still chose it.)
        assert {r["metric"].get("site", site(CHOSEN)) for r in new} == {site(CHOSEN)}
        # One site of SITES: at least 20 times fewer samples (about SITES / 2 here).
        assert new_samples * 20 <= old_samples, (title, new_samples, old_samples)
        print(f"{title}: {old_samples} -> {new_samples} samples")
        compared += 1
    assert compared >= 15
