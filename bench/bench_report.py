"""Benchmark: ``site-status report`` for a fleet's month of 1-minute data.

``--sites`` synthetic sites (default 200), November 2026 (UTC), one sample a minute of each
series an exporter publishes for the report (``up``, site info, rollup, maintenance, two probes,
and a reason while a probe fails): mostly OK, each site with a few incidents, some with a
maintenance window or an exporter outage. Backfilled with ``promtool tsdb create-blocks-from
openmetrics`` (tests/support/service_month.py) into ``--data`` (kept: building it takes minutes,
so a second run reuses it), served by Debian's Prometheus. Then the report runs ``--runs`` times
cold (Prometheus started anew for each run, the page cache dropped before it when run as root),
``--runs`` times warm (after one untimed run), then once in each other format; each run's wall
time, Prometheus' CPU for it and the machine's load average are printed (target: under 30 s).

    PYTHONPATH=. python bench/bench_report.py [--sites 200] [--data DIR] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def prometheus_cpu(url: str) -> float:
    """Prometheus' own CPU seconds so far (its ``process_cpu_seconds_total``)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("process_cpu_seconds_total "):
                return float(line.split()[1])
    raise RuntimeError("Prometheus published no process_cpu_seconds_total")


def drop_caches() -> bool:
    """Empty the page cache (root only), so that Prometheus reads its blocks from disk."""
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def one_report(url: str, fmt: str) -> dict[str, float]:
    """One ``site-status report`` in its own process: wall time, Prometheus' CPU for it, and
    the machine's 1-minute load average before it."""
    command = [sys.executable, "-m", "exporter.cli", "report", "--prometheus", url]
    command += ["--month", "2026-11", "--format", fmt]
    before, cpu, began = load(), prometheus_cpu(url), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return {"wall_s": elapsed, "prometheus_cpu_s": prometheus_cpu(url) - cpu, "load": before}


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
    retention = ("--storage.tsdb.retention.time=100y",)
    runs: list[dict[str, Any]] = []
    dropped = False
    # Cold: a new Prometheus for each run, the page cache emptied before it starts.
    for _ in range(args.runs):
        dropped = drop_caches()
        with running_prometheus(data, [], [], "127.0.0.1:9", "1h", retention) as prometheus:
            runs.append({"state": "cold", "format": "json", **one_report(prometheus.url, "json")})
    # Warm: one Prometheus that has answered the report once; then each format once (they
    # differ only in rendering).
    with running_prometheus(data, [], [], "127.0.0.1:9", "1h", retention) as prometheus:
        one_report(prometheus.url, "json")
        formats = ["json"] * args.runs + ["markdown", "html", "csv"]
        for fmt in formats:
            runs.append({"state": "warm", "format": fmt, **one_report(prometheus.url, fmt)})
    if args.json:
        print(json.dumps({"sites": args.sites, "caches_dropped": dropped, "runs": runs}))
        return 0
    print(f"{args.sites} sites, page cache {'dropped' if dropped else 'NOT dropped (not root)'}")
    for run in runs:
        print(
            f"{run['state']:4} {run['format']:8} {run['wall_s']:5.1f} s, Prometheus CPU "
            f"{run['prometheus_cpu_s']:4.1f} s, load {run['load']:.1f}"
        )
    for state in ("cold", "warm"):
        walls = [r["wall_s"] for r in runs if r["state"] == state]
        print(f"{state}: median {statistics.median(walls):.1f} s, max {max(walls):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
