"""Benchmark: one ``site-status run`` with many ``drupal`` probes, standing in for the fleet.

Each probe runs the ``drush`` stand-in (``tests/support/drush``) through the real local runner:
it burns ``--cpu-seconds`` of CPU (a Drupal bootstrap) and prints a real-sized status report
(about 50 requirements, ~20 KB, with PHP notices before the JSON). For ``--minutes`` the
benchmark scrapes ``/metrics`` every ``--scrape-interval`` and counts the exporter's child
processes every 0.25 s; at the end it prints drush starts per minute (and per 10 s), the peak of
concurrent drush processes, ``/metrics`` latency, how many results came in and how old they
were, and whether the jitter spread the starts (no minute with more than twice the mean).
It reports: exit code 0 even when the spread target fails, 1 only when something broke.

    PYTHONPATH=. python bench/bench_drupal.py [--probes 200] [--minutes 5] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from bench.bench_exporter import (
    Scraper,
    machine_description,
    percentile,
    raise_system_exit,
    seconds,
    started_site_status,
)
from tools.processes import REPO, BenchmarkBroken, Child, cpu_seconds, rss_mib, stop, wait_ready

DRUSH = REPO / "tests" / "support" / "drush"
FIXTURES = REPO / "tests" / "probes" / "fixtures" / "drush"
SAMPLE_EVERY = 0.25
SPREAD_TARGET = 2.0
REAL_SIZED_REQUIREMENTS = 50
NOTICE = (
    "PHP Deprecated:  Return type of Drupal\\legacy\\Iterator::current() should either be "
    "compatible with Iterator::current(): mixed in /var/www/html/web/modules/custom/legacy/"
    "src/Iterator.php on line 27\n"
)


# --- options ----------------------------------------------------------------------------------


def parsed_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--probes", type=int, default=200, help="drupal probes (default 200)")
    parser.add_argument("--minutes", type=float, default=5.0, help="run time (default 5)")
    parser.add_argument("--interval", type=seconds, default=60.0, help="probe interval (1m)")
    parser.add_argument(
        "--cpu-seconds", type=float, default=1.0, help="CPU each drush run burns (default 1)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="exporter.concurrency (default 8)"
    )
    parser.add_argument(
        "--scrape-interval", type=seconds, default=1.0, help="seconds between scrapes (1)"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    options = parser.parse_args(argv)
    if options.probes < 1 or options.minutes <= 0 or options.cpu_seconds < 0:
        parser.error("--probes must be at least 1, --minutes and --cpu-seconds positive")
    return options


# --- the workload -----------------------------------------------------------------------------


def real_sized_report() -> str:
    """A Drush 13 status report of about 50 requirements (~20 KB), notices first."""
    report: dict[str, Any] = json.loads((FIXTURES / "drush13-requirements.json").read_text())
    for n in range(REAL_SIZED_REQUIREMENTS - len(report)):
        report[f"custom_module_{n}"] = {
            "title": f"Custom integration {n}",
            "value": "Configured (endpoint https://api.example/v2, 3 queues)",
            "description": "The integration's queues are processed by cron. Last processed "
            f"{n + 2} minutes ago; 0 items waiting. See the integration's settings page[1].\n\n"
            f"[1] http://shop.example/admin/config/services/integration-{n}",
            "sid": 0,
            "severity": "OK",
        }
    return NOTICE * 3 + json.dumps(report, indent=4) + "\n"


def config_document(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    env = {
        "DRUSH_STANDIN_REQUIREMENTS": str(workdir / "requirements.json"),
        "DRUSH_STANDIN_STATUS": str(FIXTURES / "status.json"),
        "DRUSH_STANDIN_CPU_SECONDS": f"{options.cpu_seconds:g}",
        "DRUSH_STANDIN_LOG": str(workdir / "drush.log"),
    }
    return {
        "exporter": {"concurrency": options.concurrency},
        "reports": {"file": str(workdir / "reports.jsonl")},
        "probes": [
            {
                "name": f"site-{n}",
                "kind": "drupal",
                "drush": str(DRUSH),
                "interval": f"{options.interval:g}s",
                "env": env,
            }
            for n in range(options.probes)
        ],
    }


def written_config(options: argparse.Namespace, workdir: Path) -> Path:
    (workdir / "requirements.json").write_text(real_sized_report())
    path = workdir / "site-status.yaml"
    path.write_text(json.dumps(config_document(options, workdir), indent=1) + "\n")
    return path


# --- watching the exporter --------------------------------------------------------------------


def child_count(pid: int) -> int:
    """Live child processes of ``pid`` (each thread keeps its own children list)."""
    count = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            count += len((task / "children").read_text().split())
        except OSError:
            continue
    return count


@dataclass
class Watch:
    """What the benchmark saw while the exporter ran."""

    started_wall: float
    duration: float
    concurrent_samples: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu_seconds: float = 0.0
    rss_mib: float = 0.0
    status: dict[str, Any] = field(default_factory=dict)


def get_json(child: Child, path: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", child.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        document: dict[str, Any] = json.loads(response.read())
        return document
    finally:
        connection.close()


def watch(child: Child, scraper: Scraper, options: argparse.Namespace) -> Watch:
    duration = options.minutes * 60
    seen = Watch(started_wall=time.time(), duration=duration)
    seen.load_before = os.getloadavg()
    cpu_before = cpu_seconds(child.process.pid)
    start = time.monotonic()
    next_scrape = start
    while (now := time.monotonic()) < start + duration:
        child.raise_if_dead()
        seen.concurrent_samples.append(child_count(child.process.pid))
        if now >= next_scrape:
            seen.latencies_ms.append(1000 * scraper.scrape().latency)
            next_scrape += options.scrape_interval
        time.sleep(max(0.0, min(SAMPLE_EVERY, start + duration - time.monotonic())))
    seen.cpu_seconds = cpu_seconds(child.process.pid) - cpu_before
    seen.rss_mib = rss_mib(child.process.pid)
    seen.status = get_json(child, "/status")
    seen.load_after = os.getloadavg()
    return seen


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Figures:
    probes: int
    interval: float
    cpu_seconds_per_run: float
    concurrency: int
    minutes: float
    report_bytes: int
    starts_per_minute: list[int]
    starts_per_10s_max: int
    starts_per_10s_mean: float
    runs_finished: int
    peak_concurrent_drush: int
    mean_concurrent_drush: float
    scrapes: int
    metrics_median_ms: float
    metrics_p99_ms: float
    metrics_max_ms: float
    results_by_status: dict[str, int]
    results_timed_out: int
    result_age_median_s: float
    result_age_max_s: float
    probes_without_result: int
    exporter_cpu_seconds: float
    exporter_rss_mib: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    @property
    def spread_ratio(self) -> float:
        """The busiest full minute's starts over the mean of full minutes."""
        mean = statistics.mean(self.starts_per_minute) if self.starts_per_minute else 0.0
        return max(self.starts_per_minute) / mean if mean else math.inf

    @property
    def spread_passed(self) -> bool:
        return self.spread_ratio <= SPREAD_TARGET


def drush_events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def buckets(times: Sequence[float], width: float, count: int) -> list[int]:
    counts = [0] * count
    for at in times:
        index = int(at // width)
        if 0 <= index < count:
            counts[index] += 1
    return counts


def figures_from(options: argparse.Namespace, seen: Watch, events: list[dict[str, Any]]) -> Figures:
    starts = [e["at"] - seen.started_wall for e in events if e["event"] == "start"]
    full_minutes = max(1, int(seen.duration // 60))
    per_10s = buckets(starts, 10.0, max(1, int(seen.duration // 10)))
    latencies = seen.latencies_ms or [math.nan]
    probes = seen.status.get("probes", [])
    with_result = [p for p in probes if p["result_age_seconds"] is not None]
    ages = [p["result_age_seconds"] for p in with_result] or [math.nan]
    by_status: dict[str, int] = {}
    for p in probes:
        by_status[p["status"]] = by_status.get(p["status"], 0) + 1
    return Figures(
        probes=options.probes,
        interval=options.interval,
        cpu_seconds_per_run=options.cpu_seconds,
        concurrency=options.concurrency,
        minutes=options.minutes,
        report_bytes=len(real_sized_report()),
        starts_per_minute=buckets(starts, 60.0, full_minutes),
        starts_per_10s_max=max(per_10s),
        starts_per_10s_mean=statistics.mean(per_10s),
        runs_finished=sum(1 for e in events if e["event"] == "end"),
        peak_concurrent_drush=max(seen.concurrent_samples, default=0),
        mean_concurrent_drush=statistics.mean(seen.concurrent_samples or [0]),
        scrapes=len(seen.latencies_ms),
        metrics_median_ms=statistics.median(latencies),
        metrics_p99_ms=percentile(latencies, 0.99),
        metrics_max_ms=max(latencies),
        results_by_status=by_status,
        results_timed_out=sum(1 for p in with_result if "timed out" in p["summary"]),
        result_age_median_s=statistics.median(ages),
        result_age_max_s=max(ages),
        probes_without_result=len(probes) - len(with_result),
        exporter_cpu_seconds=seen.cpu_seconds,
        exporter_rss_mib=seen.rss_mib,
        load_before=seen.load_before,
        load_after=seen.load_after,
    )


def measured(options: argparse.Namespace, workdir: Path) -> Figures:
    config = written_config(options, workdir)
    child = started_site_status(config, workdir)
    scraper = Scraper(child)
    try:
        wait_ready(child)
        seen = watch(child, scraper, options)
        return figures_from(options, seen, drush_events(workdir / "drush.log"))
    finally:
        scraper.close()
        stop(child)


# --- the report -------------------------------------------------------------------------------


def report_lines(
    options: argparse.Namespace, figures: Figures, machine: dict[str, Any]
) -> list[str]:
    f = figures
    demand = f.probes * (f.cpu_seconds_per_run / f.interval)
    mean_minute = statistics.mean(f.starts_per_minute) if f.starts_per_minute else 0.0
    return [
        f"site-status drupal benchmark, {machine['date']}",
        f"python {machine['python']}; {machine['nproc']} CPUs (nproc), {machine['kernel']}, "
        f"{machine['cpu']}",
        f"{f.probes} drupal probes, interval {f.interval:g}s, jitter over the whole interval, "
        f"exporter.concurrency {f.concurrency}; stand-in drush burns {f.cpu_seconds_per_run:g} s "
        f"CPU and prints {f.report_bytes} bytes; {f.minutes:g} minutes",
        f"CPU demand: {demand:.2f} CPUs for drush alone ({machine['nproc']} available)",
        f"load average before {fmt_load(f.load_before)}, after {fmt_load(f.load_after)}",
        "",
        f"drush starts per minute     {', '.join(map(str, f.starts_per_minute))} "
        f"(mean {mean_minute:.1f}, busiest/mean {f.spread_ratio:.2f})",
        f"drush starts per 10 s       max {f.starts_per_10s_max}, mean {f.starts_per_10s_mean:.1f}",
        f"drush runs finished         {f.runs_finished}",
        f"concurrent drush processes  peak {f.peak_concurrent_drush}, "
        f"mean {f.mean_concurrent_drush:.1f} (sampled every {SAMPLE_EVERY:g} s)",
        f"/metrics during the run     {f.scrapes} scrapes, median {f.metrics_median_ms:.2f} ms, "
        f"p99 {f.metrics_p99_ms:.2f} ms, max {f.metrics_max_ms:.2f} ms",
        f"results at the end          {fmt_counts(f.results_by_status)}; "
        f"{f.probes_without_result} without a result yet; {f.results_timed_out} timed out",
        f"result age at the end       median {f.result_age_median_s:.0f} s, "
        f"max {f.result_age_max_s:.0f} s",
        f"exporter                    {f.exporter_cpu_seconds:.1f} s CPU, "
        f"RSS {f.exporter_rss_mib:.1f} MiB",
        "",
        "target",
        f"  {'PASS' if f.spread_passed else 'FAIL'}  no minute with more than "
        f"{SPREAD_TARGET:g}x the mean drush starts ({f.spread_ratio:.2f}x)",
    ]


def fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


def fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "none"


def json_document(figures: Figures, machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": machine,
        "figures": asdict(figures),
        "spread_ratio": figures.spread_ratio,
        "spread_passed": figures.spread_passed,
    }


def main(argv: Sequence[str] | None = None) -> int:
    options = parsed_options(argv)
    handler: Callable[[int, FrameType | None], None] = raise_system_exit
    signal.signal(signal.SIGTERM, handler)
    machine = machine_description()
    workdir = Path(tempfile.mkdtemp(prefix="site-status-drupal-bench-"))
    try:
        figures = measured(options, workdir)
    except BenchmarkBroken as error:
        print(f"benchmark broken: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report_lines(options, figures, machine)))
    if options.json:
        print(json.dumps(json_document(figures, machine)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
