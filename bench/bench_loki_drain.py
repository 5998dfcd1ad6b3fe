"""Benchmark: 200 exporters drain their spools into a rate-limited Loki after an outage.

Each of ``--sites`` Loki sinks (one process, one event loop, the exporter's real ``LokiSink``
with its spool) holds the reports of an outage of ``--hours``: a 10-probe snapshot every 5
minutes and ``--transitions-per-hour`` transitions. They all fail against a closed port for
``--outage`` seconds, with their backoff at ``max_backoff`` as after a long outage; then the
protocol double starts on that port, in a child process, with Loki's default limits per tenant
(4 MB/s with a 6 MB burst, 429 beyond; 5,000 active streams), one tenant for the whole fleet.

Figures: the drain time (from Loki's return until every spool is empty), requests, 429s, the
busiest second's request count, the ingest rate against the limit, and that every report was
stored once. A retry storm would show as many 429s and a high peak; jittered exponential
backoff (restarted when the cause changes from "unavailable" to "rate_limited") keeps both low.

    PYTHONPATH=. python bench/bench_loki_drain.py [--sites 200] [--hours 6] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from bench.bench_exporter import machine_description
from bench.bench_loki import DoubleProcess, http_transition, site_snapshot
from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings, Site
from exporter.reports.loki.sink import LokiSink
from exporter.reports.schema import Report
from exporter.reports.stats import ReportStats
from exporter.status import Status

REPO = Path(__file__).resolve().parents[1]


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=200, help="exporters (200)")
    parser.add_argument("--hours", type=float, default=6, help="length of the outage (6)")
    parser.add_argument("--transitions-per-hour", type=float, default=4, help="per site (4)")
    parser.add_argument("--outage", type=float, default=5, help="seconds of refused pushes (5)")
    parser.add_argument("--max-backoff", default="60s", help="the sinks' max_backoff (60s)")
    parser.add_argument(
        "--fresh-backoff",
        action="store_true",
        help="backoff from min_backoff, as after a short outage (default: at max_backoff)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="give up after (600 s)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def backlog(site: Site, hours: float, transitions_per_hour: float) -> list[Report]:
    """An outage's reports of one site, observed over the last ``hours``."""
    snapshots = round(hours * 12)
    transitions = round(hours * transitions_per_hour)
    reports: list[tuple[float, Report]] = []
    now = time.time()
    for i in range(snapshots):
        report = site_snapshot()
        reports.append((now - hours * 3600 + i * 300, report))
    for i in range(transitions):
        report = http_transition(i, (Status.CRITICAL, Status.OK)[i % 2])
        reports.append((now - hours * 3600 + (i + 0.5) * 3600 / transitions_per_hour, report))
    out = []
    for observed, report in sorted(reports, key=lambda pair: pair[0]):
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(observed))
        report["observed_at"] = f"{moment}.{int(observed * 1000) % 1000:03d}Z"
        report["site"] = {**report["site"], "name": site.name}
        out.append(report)
    return out


async def drain(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    port = free_port()
    blocking = BlockingRunner()
    sinks: list[LokiSink] = []
    reports = 0
    line_bytes = 0
    for index in range(args.sites):
        site = Site(name=f"site-{index:03d}", environment="prod", tier="flexprod")
        settings = LokiSettings.model_validate(
            {
                "url": f"http://127.0.0.1:{port}",
                "max_backoff": args.max_backoff,
                "spool": {"directory": str(directory / site.name)},
            }
        )
        sink = LokiSink(settings, blocking, ReportStats())
        await sink.open()
        batch = backlog(site, args.hours, args.transitions_per_hour)
        await sink.submit(batch)
        reports += len(batch)
        line_bytes += sum(len(record.entry.line.encode()) for record in sink.spool.take(1 << 40))
        sink.spool.release()
        if not args.fresh_backoff:  # as after a long outage: delays drawn at max_backoff
            sink.backoff.failures = 64
        sinks.append(sink)
    loki: DoubleProcess | None = None
    async with anyio.create_task_group() as task_group:
        for sink in sinks:
            task_group.start_soon(sink.run)
        await anyio.sleep(args.outage)
        loki = DoubleProcess("--port", str(port), timeout=30)  # with Loki's default limits
        up = time.monotonic()
        deadline = up + args.timeout
        # Polling on purpose: the sinks have no "drained" event outside a flush.
        while any(sink.spool.pending for sink in sinks) and time.monotonic() < deadline:  # noqa: ASYNC110
            await anyio.sleep(0.2)
        seconds = time.monotonic() - up
        task_group.cancel_scope.cancel()
    for sink in sinks:
        await sink.aclose()
    assert loki is not None
    wire = loki.stats()
    loki.close()
    pending = sum(sink.spool.pending for sink in sinks)
    pushed = sum(sink.loki.pushed for sink in sinks)
    dropped = sum(sum(sink.loki.dropped.values()) for sink in sinks)
    return {
        "sites": args.sites,
        "outage_hours": args.hours,
        "backoff_at_start": "min_backoff" if args.fresh_backoff else "max_backoff",
        "reports": reports,
        "line_megabytes": round(line_bytes / 2**20, 1),
        "drain_seconds": round(seconds, 1),
        "pending_after": pending,
        "stored": wire["entries"],
        "duplicates": wire["duplicates"],
        "pushed": pushed,
        "dropped": dropped,
        "requests": wire["requests"],
        "rate_limited": wire["rate_limited_requests"],
        "peak_requests_per_second": wire["peak_requests_per_second"],
        "ingest_mib_per_second": round(line_bytes / 2**20 / seconds, 2),
        "limit_mib_per_second": 4.0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    logging.basicConfig(level=logging.ERROR)  # 200 sinks each warn once about the outage
    with tempfile.TemporaryDirectory(prefix="bench-loki-drain-", dir="/dev/shm") as directory:
        figures = anyio.run(drain, args, Path(directory))
    figures["machine"] = machine_description()
    for key, value in figures.items():
        print(f"{key:>26}: {value}")
    if args.json:
        print(json.dumps(figures))
    ok = figures["pending_after"] == 0 and figures["stored"] == figures["reports"]
    return 0 if ok and figures["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
