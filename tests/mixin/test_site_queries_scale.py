"""The site dashboard's queries cost what one site costs, not what the fleet costs.

A real Prometheus holds a backfilled TSDB of many synthetic sites (``promtool tsdb
create-blocks-from openmetrics``). Each site-dashboard query, with ``$instance`` resolved the
way Grafana does it, must return exactly what the former query (the same expression without the
``instance`` matcher: join on ``site_info{site="$site"}`` only) returns, while loading far fewer
samples (``stats=all``: a count, not a timing).
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.mixin.dashboard_queries import all_of, dashboards, interpolate, panels
from tests.support.monitoring import Prometheus, http_json
from tests.support.synthetic_fleet import instance, site, synthetic_fleet
from tests.test_bench_smoke import REPO, script_run

SITES = 200
CHOSEN = 7
STEP = 30  # seconds between samples
INSTANCE_MATCHER = ', instance=~"$instance"'


@pytest.fixture(scope="module")
def fleet_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, int]]:
    end = int(time.time()) // STEP * STEP - 600
    workdir = tmp_path_factory.mktemp("fleet-tsdb")
    with synthetic_fleet(workdir, SITES, end - 3600, end, STEP) as prometheus:
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
    values = {"cluster": "", "environment": "prod", "site": site(CHOSEN)}
    values.update({"__interval": "30s", "__range": "1h"})
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


def test_the_benchmark_reports_before_and_after_for_every_scoped_query() -> None:
    done = script_run(
        REPO / "bench" / "bench_site_dashboard.py",
        *("--sites", "20", "--range", "600", "--scrape", "15", "--runs", "1", "--json"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout)
    scoped = [e for _, e in site_queries() if INSTANCE_MATCHER in e]
    assert len(rows) == len(scoped)
    for row in rows:
        assert row["after_samples"] * 5 <= row["before_samples"], row
        assert row["before_p50_ms"] > 0 and row["after_p50_ms"] > 0
