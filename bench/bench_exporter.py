"""Benchmark: ``site-status run`` with many ``file`` probes next to node_exporter.

One run starts both exporters on free loopback ports, scrapes each ``/metrics`` in turn over one
keep-alive connection (plain GET, no gzip) for ``--duration`` seconds, then prints a side-by-side
table (latency, body, series, RSS, CPU) and PASS/FAIL against the targets. It reports: the exit
code is 0 even when a target fails, and 1 only when something broke (an exporter died).

    PYTHONPATH=. python bench/bench_exporter.py [--probes 500] [--duration 300] [--json]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar

from tools.processes import (
    BenchmarkBroken,
    Child,
    cpu_seconds,
    free_port,
    rss_mib,
    site_status_argv,
    site_status_env,
    started_child,
    stop,
    wait_ready,
)

NODE_EXPORTER = "prometheus-node-exporter"
PROBE_TIMEOUT = "5s"
MEDIAN_RATIO_TARGET = 0.5
RSS_TARGET_MIB = 45.0
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def seconds(text: str) -> float:
    """Seconds from ``15``, ``15s``, ``500ms`` or ``5m`` (an argparse type)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: use e.g. 15s, 500ms, 5m")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def benchmark_options(
    argv: Sequence[str] | None,
    description: str | None,
    *,
    probes: tuple[int, str],
    scrape_interval: tuple[float, str],
) -> argparse.Namespace:
    """The options both benchmarks take; ``probes`` and ``scrape_interval``: (default, help)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--probes", type=int, default=probes[0], help=probes[1])
    parser.add_argument(
        "--duration", type=seconds, default=300.0, help="seconds of probing (default 300)"
    )
    parser.add_argument(
        "--interval", type=seconds, default=15.0, help="probe interval (default 15s)"
    )
    parser.add_argument(
        "--scrape-interval", type=seconds, default=scrape_interval[0], help=scrape_interval[1]
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line of figures")
    options = parser.parse_args(argv)
    if options.probes < 1:
        parser.error("--probes must be at least 1")
    if options.duration <= options.interval:
        parser.error("--duration must be longer than --interval (CPU is measured after one cycle)")
    return options


def parsed_options(argv: Sequence[str] | None) -> argparse.Namespace:
    return benchmark_options(
        argv,
        __doc__.split("\n\n")[0] if __doc__ else None,
        probes=(500, "file probes (default 500)"),
        scrape_interval=(0.5, "seconds between two scrapes of each exporter (default 0.5)"),
    )


# --- the workload -----------------------------------------------------------------------------


def probe_files(directory: Path, count: int) -> list[Path]:
    """``count`` fresh small files in ``directory``."""
    directory.mkdir()
    files = [directory / f"file-{n}.txt" for n in range(count)]
    for path in files:
        path.write_text("benchmark\n")
    return files


def config_document(files: Sequence[Path], interval: float, reports: Path) -> dict[str, Any]:
    """A site-status config with one ``file`` probe per file."""
    return {
        "defaults": {"interval": f"{interval:g}s", "timeout": PROBE_TIMEOUT},
        "reports": {"file": str(reports)},
        "probes": [
            {"name": f"file-{n}", "kind": "file", "path": str(path), "max_age": "1h"}
            for n, path in enumerate(files)
        ],
    }


def written_config(workdir: Path, probes: int, interval: float) -> Path:
    """The config file (JSON, which is YAML) for ``probes`` file probes under ``workdir``."""
    files = probe_files(workdir / "files", probes)
    document = config_document(files, interval, workdir / "reports.jsonl")
    path = workdir / "site-status.yaml"
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


# --- processes --------------------------------------------------------------------------------


def started_site_status(config: Path, workdir: Path) -> Child:
    port = free_port()
    argv = site_status_argv("run", "--config", str(config), "--listen", f"127.0.0.1:{port}")
    return started_child("site-status", argv, port, workdir / "site-status.log", site_status_env())


def started_node_exporter(workdir: Path) -> Child:
    port = free_port()
    argv = [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"]
    log = workdir / "node_exporter.log"
    return started_child("node_exporter", argv, port, log, dict(os.environ))


# --- scraping ---------------------------------------------------------------------------------


@dataclass
class Scrape:
    started: float
    latency: float
    body: bytes


@dataclass
class Scraper:
    """GET /metrics over one keep-alive connection, plain (no gzip) unless ``headers`` ask
    otherwise (a gzipped body is decompressed after the clock stops)."""

    child: Child
    headers: dict[str, str] = field(default_factory=lambda: {"Accept-Encoding": "identity"})
    scrapes: list[Scrape] = field(default_factory=list)
    reconnects: int = 0
    connection: http.client.HTTPConnection | None = None

    def scrape(self) -> Scrape:
        """One timed scrape; one retry on a fresh connection if the kept-alive one was closed."""
        try:
            scrape = self.timed_get()
        except (http.client.HTTPException, ConnectionError):
            self.close()
            self.reconnects += 1
            scrape = self.timed_get()
        self.scrapes.append(scrape)
        return scrape

    def timed_get(self) -> Scrape:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.child.port, timeout=10)
        started = time.monotonic()
        before = time.perf_counter()
        self.connection.request("GET", "/metrics", headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        latency = time.perf_counter() - before
        if response.status != 200:
            raise BenchmarkBroken(f"{self.child.name} /metrics answered {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return Scrape(started, latency, body)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass(frozen=True)
class Reading:
    at: float
    cpu: tuple[float, ...]


def cpu_reading(children: Sequence[Child]) -> Reading:
    return Reading(time.monotonic(), tuple(cpu_seconds(c.process.pid) for c in children))


def scrape_for(
    scrapers: Sequence[Scraper], duration: float, every: float, window_after: float
) -> tuple[Reading, Reading]:
    """Scrape each exporter every ``every`` s for ``duration`` s; CPU readings of the window.

    The window starts ``window_after`` seconds in (once the first probe cycle completed) and ends
    at the end of the run.
    """
    children = [s.child for s in scrapers]
    start = time.monotonic()
    end = start + duration
    first: Reading | None = None
    tick = start
    while tick < end:
        for scraper in scrapers:
            scraper.child.raise_if_dead()
            scraper.scrape()
        if first is None and time.monotonic() >= start + window_after:
            first = cpu_reading(children)
        tick += every
        time.sleep(max(0.0, min(tick, end) - time.monotonic()))
    for child in children:
        child.raise_if_dead()
    last = cpu_reading(children)
    return first or last, last


# --- figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def series_count(body: bytes) -> int:
    """Samples in a text exposition: the lines that are neither comments nor blank."""
    return sum(1 for line in body.splitlines() if line.strip() and not line.startswith(b"#"))


@dataclass
class Figures:
    name: str
    scrapes: int
    median_ms: float
    p99_ms: float
    body_bytes: int
    series: int
    rss_mib: float
    cpu_window_seconds: float
    window_seconds: float
    scrapes_in_window: int
    reconnects: int

    @property
    def cpu_per_scrape_ms(self) -> float:
        return 1000 * self.cpu_window_seconds / max(1, self.scrapes_in_window)


def exporter_figures(scraper: Scraper, first: Reading, last: Reading, index: int) -> Figures:
    latencies = [s.latency for s in scraper.scrapes]
    body = scraper.scrapes[-1].body
    return Figures(
        name=scraper.child.name,
        scrapes=len(scraper.scrapes),
        median_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * percentile(latencies, 0.99),
        body_bytes=len(body),
        series=series_count(body),
        rss_mib=rss_mib(scraper.child.process.pid),
        cpu_window_seconds=last.cpu[index] - first.cpu[index],
        window_seconds=last.at - first.at,
        scrapes_in_window=sum(1 for s in scraper.scrapes if s.started >= first.at),
        reconnects=scraper.reconnects,
    )


def cpu_per_cycle(figures: Figures, interval: float) -> float:
    """CPU seconds per probe cycle: CPU over the window / (window / interval)."""
    cycles = figures.window_seconds / interval
    return figures.cpu_window_seconds / cycles if cycles else float("nan")


@dataclass(frozen=True)
class Target:
    description: str
    passed: bool


def targets(site: Figures, node: Figures) -> list[Target]:
    limit = MEDIAN_RATIO_TARGET * node.median_ms
    return [
        Target(
            f"site-status /metrics median <= {MEDIAN_RATIO_TARGET:g} x node_exporter's "
            f"({site.median_ms:.2f} ms <= {limit:.2f} ms)",
            site.median_ms <= limit,
        ),
        Target(
            f"site-status RSS <= {RSS_TARGET_MIB:g} MiB ({site.rss_mib:.1f} MiB)",
            site.rss_mib <= RSS_TARGET_MIB,
        ),
    ]


# --- the report -------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description() -> dict[str, Any]:
    return {
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "nproc": len(os.sched_getaffinity(0)),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": cpu_model(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def first_output_line(argv: Sequence[str], env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, env=env, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def versions() -> dict[str, str]:
    return {
        "site_status": first_output_line(site_status_argv("--version"), site_status_env()),
        "node_exporter": first_output_line([NODE_EXPORTER, "--version"]),
    }


def table_rows(site: Figures, node: Figures, interval: float) -> list[tuple[str, str, str]]:
    cycle = cpu_per_cycle(site, interval)
    return [
        ("scrapes", f"{site.scrapes}", f"{node.scrapes}"),
        ("/metrics median (ms)", f"{site.median_ms:.2f}", f"{node.median_ms:.2f}"),
        ("/metrics p99 (ms)", f"{site.p99_ms:.2f}", f"{node.p99_ms:.2f}"),
        ("body size (bytes)", f"{site.body_bytes}", f"{node.body_bytes}"),
        ("series", f"{site.series}", f"{node.series}"),
        ("RSS at end (MiB)", f"{site.rss_mib:.1f}", f"{node.rss_mib:.1f}"),
        ("CPU per probe cycle (s)", f"{cycle:.3f}", "-"),
        ("CPU per scrape (ms)", "-", f"{node.cpu_per_scrape_ms:.2f}"),
        ("CPU window (s)", f"{site.window_seconds:.1f}", f"{node.window_seconds:.1f}"),
        ("CPU in window (s)", f"{site.cpu_window_seconds:.2f}", f"{node.cpu_window_seconds:.2f}"),
        ("reconnects", f"{site.reconnects}", f"{node.reconnects}"),
    ]


def report_lines(
    options: argparse.Namespace,
    site: Figures,
    node: Figures,
    machine: dict[str, Any],
    names: dict[str, str],
) -> list[str]:
    cycles = site.window_seconds / options.interval
    lines = [
        f"site-status benchmark, {machine['date']}",
        f"python {machine['python']}; {machine['nproc']} CPUs (nproc), {machine['kernel']}, "
        f"{machine['cpu']}",
        f"{names['site_status']}: {options.probes} file probes, interval {options.interval:g}s, "
        f"timeout {PROBE_TIMEOUT}",
        f"{names['node_exporter']}, default collectors",
        f"{options.duration:g}s of probing; each /metrics scraped every "
        f"{options.scrape_interval:g}s, one keep-alive connection each, plain GET (no gzip)",
        f"CPU window: from one interval after start to the end, {cycles:.1f} probe cycles "
        "(site-status CPU includes serving its scrapes)",
        "",
    ]
    rows = table_rows(site, node, options.interval)
    return lines + comparison_lines("node_exporter", rows, targets(site, node))


def comparison_lines(
    anchor: str, rows: Sequence[tuple[str, str, str]], checked: Sequence[Target]
) -> list[str]:
    """The side-by-side table of site-status and ``anchor``, then each target's PASS/FAIL."""
    rows = [("", "site-status", anchor), *rows]
    label_width = max(len(r[0]) for r in rows)
    value_width = max(len(v) for r in rows for v in r[1:])
    lines = [
        f"{label:<{label_width}}  {a:>{value_width}}  {b:>{value_width}}" for label, a, b in rows
    ]
    lines += ["", "targets"]
    lines += [f"  {'PASS' if t.passed else 'FAIL'}  {t.description}" for t in checked]
    return lines


def options_document(options: argparse.Namespace) -> dict[str, Any]:
    """The options both benchmarks take, for their JSON output."""
    return {
        "probes": options.probes,
        "duration": options.duration,
        "interval": options.interval,
        "scrape_interval": options.scrape_interval,
    }


def json_document(
    options: argparse.Namespace,
    site: Figures,
    node: Figures,
    machine: dict[str, Any],
    names: dict[str, str],
) -> dict[str, Any]:
    return {
        "machine": machine,
        "versions": names,
        "options": options_document(options),
        "site_status": {
            **asdict(site),
            "cpu_per_cycle_seconds": cpu_per_cycle(site, options.interval),
        },
        "node_exporter": {**asdict(node), "cpu_per_scrape_ms": node.cpu_per_scrape_ms},
        "targets": [asdict(t) for t in targets(site, node)],
    }


# --- the run ----------------------------------------------------------------------------------


def measured_figures(options: argparse.Namespace, workdir: Path) -> tuple[Figures, Figures]:
    """Start both exporters, scrape them for the duration, stop them; their figures."""
    config = written_config(workdir, options.probes, options.interval)
    children: list[Child] = []
    scrapers: list[Scraper] = []
    try:
        children.append(started_site_status(config, workdir))
        children.append(started_node_exporter(workdir))
        for child in children:
            wait_ready(child)
        scrapers = [Scraper(child) for child in children]
        first, last = scrape_for(
            scrapers, options.duration, options.scrape_interval, options.interval
        )
        site, node = (exporter_figures(s, first, last, i) for i, s in enumerate(scrapers))
        return site, node
    finally:
        for scraper in scrapers:
            scraper.close()
        for child in children:
            stop(child)


def raise_system_exit(signum: int, frame: FrameType | None) -> None:
    """On SIGTERM, unwind so that the ``finally`` blocks stop the exporters."""
    raise SystemExit(128 + signum)


FiguresT = TypeVar("FiguresT")


@dataclass(frozen=True)
class Benchmark(Generic[FiguresT]):
    """What one benchmark script plugs into ``run_benchmark``: ours against an anchor."""

    workdir_prefix: str
    programs: Sequence[str]
    versions: Callable[[], dict[str, str]]
    measure: Callable[[argparse.Namespace, Path], tuple[FiguresT, FiguresT]]
    report: Callable[
        [argparse.Namespace, FiguresT, FiguresT, dict[str, Any], dict[str, str]], list[str]
    ]
    document: Callable[
        [argparse.Namespace, FiguresT, FiguresT, dict[str, Any], dict[str, str]], dict[str, Any]
    ]


def run_benchmark(benchmark: Benchmark[FiguresT], options: argparse.Namespace) -> int:
    """Measure, print the table (and JSON); 0 when it ran, 1 when something broke."""
    handler: Callable[[int, FrameType | None], None] = raise_system_exit
    signal.signal(signal.SIGTERM, handler)
    missing = [program for program in benchmark.programs if shutil.which(program) is None]
    if missing:
        print(f"not found on PATH: {', '.join(missing)}", file=sys.stderr)
        return 1
    machine = machine_description()
    workdir = Path(tempfile.mkdtemp(prefix=benchmark.workdir_prefix))
    try:
        names = benchmark.versions()
        ours, theirs = benchmark.measure(options, workdir)
    except BenchmarkBroken as error:
        print(f"benchmark broken: {error}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(benchmark.report(options, ours, theirs, machine, names)))
    if options.json:
        print(json.dumps(benchmark.document(options, ours, theirs, machine, names)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    benchmark = Benchmark(
        "site-status-bench-",
        [NODE_EXPORTER],
        versions,
        measured_figures,
        report_lines,
        json_document,
    )
    return run_benchmark(benchmark, parsed_options(argv))


if __name__ == "__main__":
    sys.exit(main())
