"""Benchmark: ``site-status report`` for a fleet's month of 1-minute data.

``--sites`` synthetic sites (default 200), November 2026 (UTC), one sample a minute of each
series an exporter publishes for the report (``up``, site info, rollup, maintenance, two probes,
and a reason while a probe fails): mostly OK, each site with a few incidents, some with a
maintenance window or an exporter outage. Backfilled with ``promtool tsdb create-blocks-from
openmetrics`` (tests/support/service_month.py) into ``--data`` (kept: building it takes minutes,
so a second run reuses it), served by Debian's Prometheus; then the report runs ``--runs``
times in each format and the wall time of each is printed (the target: under 30 s).

    PYTHONPATH=. python bench/bench_report.py [--sites 200] [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tests.support.monitoring import running_prometheus
from tests.support.service_month import FleetSite, Published, write_blocks

START = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
END = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())
TIERS = ("priprod", "flexprod", "besteffort")
OBJECTIVES = {
    "priprod": {"availability": 0.995, "reliability": 0.995},
    "flexprod": {"availability": 0.99, "reliability": 0.99},
    "besteffort": {},
}
OK = Published(probes=(("db", 0), ("web", 0)))
DOWN = Published(status=2, probes=(("db", 0), ("web", 2)), reasons=(("web", "timeout", ""),))
DB_DOWN = Published(status=2, probes=(("db", 2), ("web", 0)), reasons=(("db", "refused", ""),))


def site_minutes(i: int) -> Callable[[int], Published | None]:
    day = 86400
    # Site i: a web incident of 5-35 minutes on day i % 28, a db one on day (i * 7) % 28 at
    # another hour, a maintenance hour for every 10th site, an exporter outage for every 20th.
    web = START + (i % 28) * day + (i % 24) * 3600
    web_end = web + (i % 7 + 1) * 300
    db = START + ((i * 7) % 28) * day + ((i + 12) % 24) * 3600
    db_end = db + 120
    maintenance = START + 9 * day + (i % 24) * 3600 if i % 10 == 0 else -1
    outage = START + 14 * day + (i % 24) * 3600 if i % 20 == 0 else -1

    def minute(t: int) -> Published | None:
        if outage <= t < outage + 1800:
            return Published(up=False)
        published = DOWN if web <= t < web_end else DB_DOWN if db <= t < db_end else OK
        if maintenance <= t < maintenance + 3600:
            published = Published(True, published.status, 1, published.probes, published.reasons)
        return published

    return minute


def fleet(sites: int) -> list[FleetSite]:
    return [
        FleetSite(
            {
                "site": f"site-{i:03d}",
                "environment": "prod",
                "tier": TIERS[i % 3],
                "profile": "drupal",
            },
            site_minutes(i),
            OBJECTIVES[TIERS[i % 3]],
        )
        for i in range(sites)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--data", type=Path, default=Path("/var/tmp/site-status-report-bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = args.data / f"{args.sites}-sites"
    if not (data / "complete").exists():
        began = time.perf_counter()
        write_blocks(data, fleet(args.sites), START - 600, END + 600)
        (data / "complete").write_text(f"{time.perf_counter() - began:.0f} s to build\n")
    results: dict[str, list[float]] = {}
    retention = ("--storage.tsdb.retention.time=100y",)
    with running_prometheus(data, [], [], "127.0.0.1:9", "1h", retention) as prometheus:
        for fmt in ("json", "markdown", "html", "csv"):
            for _ in range(args.runs):
                command = [sys.executable, "-m", "exporter.cli", "report"]
                command += ["--prometheus", prometheus.url, "--month", "2026-11"]
                began = time.perf_counter()
                done = subprocess.run(
                    [*command, "--format", fmt], capture_output=True, text=True, check=False
                )
                elapsed = time.perf_counter() - began
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
                results.setdefault(fmt, []).append(elapsed)
    summary = {
        fmt: {"median_s": statistics.median(t), "max_s": max(t)} for fmt, t in results.items()
    }
    if args.json:
        print(json.dumps({"sites": args.sites, "results": summary}))
    for fmt, figures in summary.items():
        print(f"{fmt:9} median {figures['median_s']:.1f} s, max {figures['max_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
