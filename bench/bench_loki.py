"""Benchmark: the Loki report pusher into the strict protocol double.

The double runs in a child process (``python -m tests.support.loki_double``), so the CPU
measured here is the pusher's own: encoding lines, the spool (append, fsync, commit), JSON,
gzip and HTTP. Three figures:

1. Drain rate: ``--reports`` realistic transitions queued in the spool (as after an outage),
   then pushed with the default batching (1 MiB, 1 s): reports per second and CPU per report.
2. Bytes on the wire per report, gzip included: in full batches (a backlog), and alone in its
   push (the steady state: a transition, or a 10-probe snapshot, is usually the only report
   in its batch). Request heads (headers) are counted apart.
3. The cost to a site: bytes per day for a site with 10 probes at the default 5-minute
   snapshot interval (288 snapshots a day) plus ``--transitions-per-day`` transitions.

    PYTHONPATH=. python bench/bench_loki.py [--reports 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from bench.bench_exporter import machine_description
from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings, Site
from exporter.probe_api import Result
from exporter.reports.loki.sink import LokiSink
from exporter.reports.schema import Report, snapshot_report, transition_report
from exporter.reports.stats import ReportStats
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore

REPO = Path(__file__).resolve().parents[1]
SITE = Site(name="shop-prod-42", environment="prod", tier="priprod", profile="os2web")
SNAPSHOTS_PER_DAY = 86400 // 300
SUBMIT_CHUNK = 500


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--reports", type=int, default=20_000, help="reports to drain (20000)")
    parser.add_argument("--single", type=int, default=20, help="lone pushes to measure (20)")
    parser.add_argument(
        "--transitions-per-day", type=int, default=24, help="for the cost per day (24)"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    return parser.parse_args(argv)


def http_transition(index: int, status: Status) -> Report:
    """A transition of one of 50 http probes with a health+json body of 8 components, its
    timings and outputs varying as real ones do."""
    rng = random.Random(index)
    store = ResultStore()
    name = f"service-{index % 50:02d}-healthz"
    store.configure([ProbeSpec(name, "http", 60)])
    failing = status is Status.CRITICAL
    parts = ("connections", "replication", "disk", "cache", "queue", "search", "mail", "cron")
    details = {
        "url": f"https://service-{index % 50:02d}.shop.example/healthz",
        "status_code": 503 if failing else 200,
        "format": "health+json",
        "components": {
            f"db:{part}": {
                "status": "fail" if failing and rng.random() < 0.4 else "pass",
                "observedValue": round(rng.uniform(0, 100), 2),
                "output": f"{rng.randint(1, 500)} ms since last check" if failing else "",
            }
            for part in parts
        },
        "phases": {p: round(rng.uniform(0.0001, 0.2), 6) for p in ("connect", "tls", "wait")},
    }
    summary = f"HTTP 503: {rng.randint(1, 8)} components fail" if failing else "HTTP 200: pass"
    store.record(name, Result(status, summary, details), rng.uniform(0.01, 2.0))
    previous = Status.OK if failing else Status.CRITICAL
    return transition_report(SITE, store.views()[0], previous, time.time())


def site_snapshot(probes: int = 10) -> Report:
    store = ResultStore()
    kinds = ("http", "disk", "file", "mount", "load", "tcp", "dns", "drupal")
    store.configure([ProbeSpec(f"probe-{i}", kinds[i % len(kinds)], 60) for i in range(probes)])
    for i in range(probes):
        store.record(
            f"probe-{i}", Result(Status.OK, "used 41 % of 50 GiB (warn 80, crit 90)"), 0.01
        )
    now = time.time()
    return snapshot_report(SITE, store.views(now), "interval", now)


class DoubleProcess:
    """The Loki double in a child process (``options``: its command line, e.g. a port)."""

    def __init__(self, *options: str, timeout: float = 10) -> None:
        self.timeout = timeout
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.loki_double", *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/double/stats", timeout=self.timeout) as response:
            document: dict[str, int] = json.loads(response.read())
            return document

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=self.timeout)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after}


async def drain(double: DoubleProcess, spool: Path, reports: int) -> dict[str, Any]:
    settings = LokiSettings.model_validate({"url": double.url, "spool": {"directory": str(spool)}})
    stats = ReportStats()
    sink = LokiSink(settings, BlockingRunner(), stats)
    await sink.open()
    lines = [http_transition(i, (Status.CRITICAL, Status.OK)[i % 2]) for i in range(reports)]
    started = time.perf_counter()
    for first in range(0, reports, SUBMIT_CHUNK):
        await sink.submit(lines[first : first + SUBMIT_CHUNK])
    queued_seconds = time.perf_counter() - started
    before = double.stats()
    cpu_before, started = time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(sink.run)
        await sink.flush(600)  # returns when the spool is empty
        task_group.cancel_scope.cancel()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    await sink.aclose()
    wire = delta(double.stats(), before)
    assert wire["entries"] == reports and wire["duplicates"] == 0, wire
    return {
        "reports": reports,
        "queue_seconds": round(queued_seconds, 3),
        "queued_per_second": round(reports / queued_seconds),
        "seconds": round(seconds, 3),
        "reports_per_second": round(reports / seconds),
        "cpu_ms_per_report": round(1000 * cpu / reports, 4),
        "requests": wire["accepted_requests"],
        "line_bytes_per_report": round(wire["line_bytes"] / reports),
        "body_bytes_per_report": round(wire["body_bytes"] / reports, 1),
        "header_bytes_per_request": round(wire["header_bytes"] / max(1, wire["requests"])),
    }


async def lone_pushes(
    double: DoubleProcess, spool: Path, report: Report, count: int
) -> dict[str, Any]:
    """``count`` pushes of one report each (the steady state), one at a time."""
    settings = LokiSettings.model_validate(
        {"url": double.url, "batch_max_wait": 0.001, "spool": {"directory": str(spool)}}
    )
    sink = LokiSink(settings, BlockingRunner(), ReportStats())
    await sink.open()
    before = double.stats()
    latencies = []
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(sink.run)
        for _ in range(count):
            started = time.perf_counter()
            await sink.submit([dict(report)])
            await sink.flush(60)
            latencies.append(time.perf_counter() - started)
        task_group.cancel_scope.cancel()
    await sink.aclose()
    wire = delta(double.stats(), before)
    assert wire["entries"] == count and wire["accepted_requests"] == count, wire
    latencies.sort()
    return {
        "line_bytes": round(wire["line_bytes"] / count),
        "body_bytes": round(wire["body_bytes"] / count, 1),
        "header_bytes": round(wire["header_bytes"] / count),
        "median_ms": round(1000 * latencies[len(latencies) // 2], 2),
    }


def per_day(
    snapshot: dict[str, Any], transition: dict[str, Any], transitions: int
) -> dict[str, Any]:
    def daily(key: str) -> float:
        return float(SNAPSHOTS_PER_DAY * snapshot[key] + transitions * transition[key])

    body, heads, lines = daily("body_bytes"), daily("header_bytes"), daily("line_bytes")
    return {
        "snapshots": SNAPSHOTS_PER_DAY,
        "transitions": transitions,
        "wire_bytes": round(body + heads),
        "body_bytes": round(body),
        "line_bytes": round(lines),
    }


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = options(argv)
    double = DoubleProcess("--no-limits")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-loki-") as workdir:
            root = Path(workdir)
            drained = anyio.run(drain, double, root / "drain", args.reports)
            transition = anyio.run(
                lone_pushes, double, root / "t", http_transition(0, Status.CRITICAL), args.single
            )
            snapshot = anyio.run(lone_pushes, double, root / "s", site_snapshot(), args.single)
    finally:
        double.close()
    return {
        "drain": drained,
        "lone_transition": transition,
        "lone_snapshot_10_probes": snapshot,
        "per_day_10_probes": per_day(snapshot, transition, args.transitions_per_day),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_description(),
        "options": vars(args),
    }


def print_figures(figures: dict[str, Any]) -> None:
    d, t, s, day = (
        figures["drain"],
        figures["lone_transition"],
        figures["lone_snapshot_10_probes"],
        figures["per_day_10_probes"],
    )
    load = ", ".join(str(x) for x in figures["loadavg"])
    print(f"Loki pusher into the protocol double (load average {load})")
    print(f"  queue {d['reports']} reports into the spool: {d['queued_per_second']}/s")
    print(
        f"  drain: {d['reports_per_second']} reports/s in {d['requests']} pushes, "
        f"{d['cpu_ms_per_report']} ms CPU per report"
    )
    print(
        f"  full batches: {d['line_bytes_per_report']} B line -> {d['body_bytes_per_report']} B "
        f"gzip per report (+{d['header_bytes_per_request']} B headers per push)"
    )
    print(
        f"  a transition alone: {t['line_bytes']} B line -> {t['body_bytes']} B gzip "
        f"+ {t['header_bytes']} B headers; submit to accepted {t['median_ms']} ms (median)"
    )
    print(
        f"  a 10-probe snapshot alone: {s['line_bytes']} B line -> {s['body_bytes']} B gzip "
        f"+ {s['header_bytes']} B headers"
    )
    print(
        f"  a site with 10 probes, {day['snapshots']} snapshots + {day['transitions']} "
        f"transitions a day: {day['wire_bytes'] / 1024:.0f} KiB/day on the wire "
        f"({day['body_bytes'] / 1024:.0f} KiB bodies), {day['line_bytes'] / 1024:.0f} KiB/day "
        "of lines ingested"
    )


def main(argv: Sequence[str] | None = None) -> int:
    figures = run(argv)
    print_figures(figures)
    if figures["options"]["json"]:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
