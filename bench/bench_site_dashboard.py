"""Benchmark: the site dashboard's queries at fleet size, before and after ``$instance``.

A synthetic fleet (tests/support/synthetic_fleet.py) of ``--sites`` sites sampled every
``--scrape`` seconds over ``--range`` seconds is backfilled into a real Prometheus; every
site-dashboard Prometheus query is then sent as Grafana sends it (tools/fleet/measure.py's
step: range / 1000 points, at least the scrape interval; ``$__rate_interval`` = max(step +
scrape, 4 x scrape)), in its former form (no ``instance`` matcher: the join on
``site_info{site="$site"}`` only) and its current form, ``--runs`` times each: p50 and samples
loaded (``stats=all``). The defaults mirror the 200-site fleet run of docs/fleet.md (x10:
3 s scrapes over its ~800 s day).

    PYTHONPATH=. python bench/bench_site_dashboard.py [--sites 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.mixin.dashboard_queries import all_of, dashboards, interpolate, panels
from tests.support.monitoring import Prometheus, http_json
from tests.support.synthetic_fleet import site, synthetic_fleet

INSTANCE_MATCHER = ', instance=~"$instance"'


def timed_range(
    prometheus: Prometheus, expr: str, start: int, end: int, step: float
) -> tuple[float, int]:
    params = {"query": expr, "start": start, "end": end, "step": f"{step:g}", "stats": "all"}
    began = time.perf_counter()
    data = http_json(f"{prometheus.url}/api/v1/query_range?{urllib.parse.urlencode(params)}", 60)
    elapsed = time.perf_counter() - began
    assert data["status"] == "success", data
    return elapsed, int(data["data"]["stats"]["samples"]["totalQueryableSamples"])


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    end = int(time.time()) // args.scrape * args.scrape - 600
    start = end - args.range
    step = max(float(args.scrape), float(math.ceil(args.range / 1000)))
    values = {
        "cluster": "",
        "environment": "prod",
        "site": site(args.sites // 2),
        "__interval": f"{step:g}s",
        "__rate_interval": f"{max(step + args.scrape, 4 * args.scrape):g}s",
        "__range": f"{args.range}s",
    }
    document = dashboards()["site-status-site.json"]
    rows = []
    with (
        tempfile.TemporaryDirectory() as workdir,
        synthetic_fleet(Path(workdir), args.sites, start, end, args.scrape) as prometheus,
    ):
        values["instance"] = all_of(
            prometheus.label_values("instance", f'site_status_site_info{{site="{values["site"]}"}}')
        )
        for panel in panels(document):
            for target in panel.get("targets", []):
                expr = target["expr"]
                if target["datasource"]["type"] != "prometheus" or INSTANCE_MATCHER not in expr:
                    continue
                row: dict[str, Any] = {"panel": panel["title"], "ref": target["refId"]}
                for form, text in (("before", expr.replace(INSTANCE_MATCHER, "")), ("after", expr)):
                    query = interpolate(text, values)
                    runs = [
                        timed_range(prometheus, query, start, end, step) for _ in range(args.runs)
                    ]
                    row[f"{form}_p50_ms"] = round(1000 * statistics.median(r[0] for r in runs), 1)
                    row[f"{form}_samples"] = runs[0][1]
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--scrape", type=int, default=3, help="seconds between samples")
    parser.add_argument("--range", type=int, default=800, help="seconds the panels show")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = measure(args)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| panel | ref | p50 ms before | p50 ms after | samples before | samples after |")
    print("|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: -float(r["before_p50_ms"])):
        print(
            f"| {r['panel']} | {r['ref']} | {r['before_p50_ms']} | {r['after_p50_ms']} "
            f"| {r['before_samples']} | {r['after_samples']} |"
        )


if __name__ == "__main__":
    main()
