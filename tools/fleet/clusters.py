"""``python -m tools.fleet.clusters [--clusters 3] [--sites 200]``: the dashboards on a shared
store holding several clusters' fleets.

The store is a real Prometheus on a TSDB backfilled with ``promtool`` (tests/support/
synthetic_fleet.py): ``--sites`` sites in each of ``--clusters`` clusters, with the same site
names and the same ``instance`` labels in every cluster (as pod IPs repeat), the ``cluster``
label on every series (each cluster's external label), and the recorded series the dashboards
read, sampled every ``--scrape`` seconds over ``--range`` seconds (the defaults mirror the
200-site fleet run: 3 s scrapes over its ~800 s day). Every dashboard query is then sent as
Grafana sends it and timed by the fleet tooling's own ``measure.dashboard_timings``: the fleet
overview with every variable on All (every cluster), the site dashboard for three sites of one
cluster. Prints the table of docs/fleet.md (*Three clusters*), PASS/FAIL against the target
(every query's p50 under 500 ms), and the machine's load average while the queries ran (the
machine may be shared: a loaded one inflates every figure).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.synthetic_fleet import site, synthetic_fleet
from tools.fleet.measure import PrometheusApi, QueryTiming, dashboard_timings

TARGET_P50_MS = 500.0


def parsed(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.fleet.clusters", description=__doc__)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--sites", type=int, default=200, help="per cluster (default 200)")
    parser.add_argument("--scrape", type=int, default=3, help="seconds between samples")
    parser.add_argument("--range", type=int, default=800, help="seconds the panels show")
    parser.add_argument("--runs", type=int, default=10, help="repetitions of each query")
    options = parser.parse_args(argv)
    if options.clusters < 1 or options.sites < 3:
        parser.error("at least one cluster of three sites")
    return options


@dataclass(frozen=True)
class Measured:
    timings: list[QueryTiming]
    backfill_s: float
    #: The machine's 1, 5 and 15 minute load averages as the queries began and as they ended.
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def measure(options: argparse.Namespace) -> Measured:
    clusters = tuple(f"cluster-{n}" for n in range(options.clusters))
    end = int(time.time()) // options.scrape * options.scrape - 600
    start = end - options.range
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="site-status-clusters-") as workdir,
        synthetic_fleet(Path(workdir), options.sites, start, end, options.scrape, clusters) as p,
    ):
        backfill = time.monotonic() - began
        api = PrometheusApi(int(p.url.rsplit(":", 1)[1]))
        try:
            choices = [site(0), site(options.sites // 2), site(options.sites - 1)]
            load_before = os.getloadavg()
            timings = dashboard_timings(
                api, start, end, options.scrape, choices, options.runs, cluster=clusters[-1]
            )
            load_after = os.getloadavg()
        finally:
            api.close()
    return Measured(timings, backfill, load_before, load_after)


def table(timings: list[QueryTiming]) -> list[str]:
    lines = [
        "| dashboard | panel | kind | p50 ms | p90 ms | max ms | series | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in sorted(timings, key=lambda t: -t.p50_ms):
        lines.append(
            f"| {t.dashboard.removesuffix('.json')} | {t.panel} | {t.kind} | {t.p50_ms:.1f} "
            f"| {t.p90_ms:.1f} | {t.max_ms:.1f} | {t.series} | {len(t.latencies_ms)} |"
        )
    return lines


def load_text(load: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.2f}" for value in load)


def main(argv: Sequence[str] | None = None) -> int:
    options = parsed(argv)
    measured = measure(options)
    timings = measured.timings
    print("\n".join(table(timings)))
    worst = max(timings, key=lambda t: t.p50_ms)
    verdict = "PASS" if worst.p50_ms < TARGET_P50_MS else "FAIL"
    print(
        f"\n{options.clusters} clusters x {options.sites} sites, {len(timings)} queries "
        f"(backfill {measured.backfill_s:.0f} s): slowest p50 {worst.p50_ms:.1f} ms "
        f"({worst.panel}), target < {TARGET_P50_MS:g} ms: {verdict}\n"
        f"load average (1/5/15 min) {load_text(measured.load_before)} as the queries began, "
        f"{load_text(measured.load_after)} as they ended, on {os.cpu_count()} CPUs"
    )
    return 0 if not math.isnan(worst.p50_ms) else 1


if __name__ == "__main__":
    sys.exit(main())
