"""Benchmark: ``site-status run`` with many ``http`` probes next to blackbox_exporter.

One run starts nginx on a free loopback port serving ``--probes`` health endpoints, then
``site-status run`` probing each of them every ``--interval``, and Debian's blackbox_exporter
asked to probe the same endpoints the way Prometheus would (one ``/probe`` per target per
interval, spread over the interval, a few keep-alive connections). For ``--duration`` seconds it
also scrapes site-status's ``/metrics``. It prints CPU per HTTP probe, RSS, and our ``/metrics``
latency against blackbox's ``/probe`` latency, then PASS/FAIL against the targets. It reports:
the exit code is 0 even when a target fails, and 1 only when something broke.

    PYTHONPATH=. python bench/bench_http.py [--probes 200] [--duration 300] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import multiprocessing
import multiprocessing.process
import os
import re
import socket
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.bench_exporter import (
    PROBE_TIMEOUT,
    Benchmark,
    Scraper,
    Target,
    benchmark_options,
    comparison_lines,
    first_output_line,
    options_document,
    percentile,
    run_benchmark,
    started_site_status,
)
from tools.processes import (
    READY_TIMEOUT,
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

NGINX = "/usr/sbin/nginx"
BLACKBOX = "prometheus-blackbox-exporter"
BLACKBOX_MODULE = "http_2xx"
CPU_RATIO_TARGET = 1.0
MEDIAN_RATIO_TARGET = 0.2
PROBE_CONNECTIONS = 4
PROMETHEUS_SCRAPE_TIMEOUT = 10.0
HTTP_KIND = "http"
_RUNS_SAMPLE = re.compile(rb"^site_status_probe_runs_total\{([^}]*)\}\s+(\S+)", re.MULTILINE)
_LABEL = re.compile(rb'(\w+)="((?:[^"\\]|\\.)*)"')
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_PROBE_SUCCESS = re.compile(rb"^probe_success\s+(\S+)", re.MULTILINE)


# --- options ----------------------------------------------------------------------------------


def parsed_options(argv: Sequence[str] | None) -> argparse.Namespace:
    return benchmark_options(
        argv,
        __doc__.split("\n\n")[0] if __doc__ else None,
        probes=(200, "http probes and endpoints (default 200)"),
        scrape_interval=(1.0, "seconds between two scrapes of site-status /metrics (default 1)"),
    )


# --- the workload -----------------------------------------------------------------------------


def healthz_url(port: int, n: int) -> str:
    return f"http://127.0.0.1:{port}/healthz/{n}"


def nginx_config(port: int) -> str:
    """A minimal nginx config: every ``/healthz/...`` answers 200 with a health+json body.

    Paths are relative to the prefix (``-p``); the temp paths are set so that nothing outside
    it is touched.
    """
    temp_paths = "".join(
        f"    {kind}_temp_path {kind}_temp;\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        "daemon off;\n"
        "worker_processes 1;\n"
        "pid nginx.pid;\n"
        "error_log stderr;\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        f"{temp_paths}"
        "    server {\n"
        f"        listen 127.0.0.1:{port};\n"
        "        location /healthz/ {\n"
        "            default_type application/health+json;\n"
        '            return 200 \'{"status":"pass"}\';\n'
        "        }\n"
        "    }\n"
        "}\n"
    )


def blackbox_config() -> str:
    return f"modules:\n  {BLACKBOX_MODULE}:\n    prober: http\n    timeout: {PROBE_TIMEOUT}\n"


def config_document(nginx_port: int, probes: int, interval: float, reports: Path) -> dict[str, Any]:
    """A site-status config with one ``http`` probe per health endpoint."""
    return {
        "defaults": {"interval": f"{interval:g}s", "timeout": PROBE_TIMEOUT},
        "reports": {"file": str(reports)},
        "probes": [
            {"name": f"hz-{n}", "kind": HTTP_KIND, "url": healthz_url(nginx_port, n)}
            for n in range(probes)
        ],
    }


def written_config(workdir: Path, nginx_port: int, probes: int, interval: float) -> Path:
    """The site-status config file (JSON, which is YAML) under ``workdir``."""
    document = config_document(nginx_port, probes, interval, workdir / "reports.jsonl")
    path = workdir / "site-status.yaml"
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


# --- processes --------------------------------------------------------------------------------


def started_nginx(workdir: Path) -> Child:
    prefix = workdir / "nginx"
    prefix.mkdir()
    port = free_port()
    (prefix / "nginx.conf").write_text(nginx_config(port))
    argv = [NGINX, "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr"]
    return started_child("nginx", argv, port, workdir / "nginx.log", dict(os.environ))


def started_blackbox(workdir: Path) -> Child:
    config = workdir / "blackbox.yml"
    config.write_text(blackbox_config())
    port = free_port()
    argv = [BLACKBOX, f"--web.listen-address=127.0.0.1:{port}", f"--config.file={config}"]
    return started_child("blackbox_exporter", argv, port, workdir / "blackbox.log", {**os.environ})


def wait_serving(child: Child, path: str) -> None:
    """Until ``path`` answers 200; raise if the child dies or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        child.raise_if_dead()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", child.port, timeout=2)
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise BenchmarkBroken(f"{child.name} not serving {path} after {READY_TIMEOUT:g}s")
        time.sleep(0.1)


# --- asking blackbox to probe, as Prometheus would ---------------------------------------------


def prometheus_headers(interval: float) -> dict[str, str]:
    """The request headers of a Prometheus 2 scrape (its scrape timeout is at most the interval)."""
    timeout = min(PROMETHEUS_SCRAPE_TIMEOUT, interval)
    return {
        "Accept": "application/openmetrics-text;version=1.0.0,"
        "application/openmetrics-text;version=0.0.1;q=0.75,"
        "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "Accept-Encoding": "gzip",
        "User-Agent": "Prometheus/2.45.0",
        "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout:g}",
    }


def probe_path(target: str) -> str:
    return f"/probe?module={BLACKBOX_MODULE}&target={target}"


def probe_succeeded(body: bytes) -> bool:
    match = _PROBE_SUCCESS.search(body)
    return match is not None and float(match[1]) == 1


@dataclass(frozen=True)
class ProbeCall:
    finished: float
    latency: float
    success: bool


@dataclass
class ProbeClient:
    """GET /probe on blackbox over one keep-alive connection."""

    child: Child
    headers: dict[str, str]
    reconnects: int = 0
    connection: http.client.HTTPConnection | None = None

    def probe(self, target: str) -> ProbeCall:
        """One timed probe; one retry on a fresh connection if the kept-alive one was closed."""
        try:
            return self.timed_get(target)
        except (http.client.HTTPException, ConnectionError):
            self.close()
            self.reconnects += 1
            return self.timed_get(target)

    def timed_get(self, target: str) -> ProbeCall:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.child.port, timeout=30)
        before = time.perf_counter()
        self.connection.request("GET", probe_path(target), headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        latency = time.perf_counter() - before
        if response.status != 200:
            raise BenchmarkBroken(f"{self.child.name} /probe answered {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return ProbeCall(time.monotonic(), latency, probe_succeeded(body))

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass(frozen=True)
class Slot:
    """One target, probed every interval at ``offset`` seconds into each cycle."""

    offset: float
    target: str


def worker_slots(targets: Sequence[str], interval: float, workers: int) -> list[list[Slot]]:
    """Targets spread evenly over the interval, dealt round-robin to ``workers`` connections."""
    spacing = interval / len(targets)
    slots = [Slot(n * spacing, target) for n, target in enumerate(targets)]
    return [slots[k::workers] for k in range(workers)]


@dataclass
class ProbeLoad:
    """Threads that ask blackbox for one /probe per target per interval until stopped."""

    child: Child
    targets: Sequence[str]
    interval: float
    workers: int = PROBE_CONNECTIONS
    calls: list[ProbeCall] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    clients: list[ProbeClient] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, at: float) -> None:
        headers = prometheus_headers(self.interval)
        for slots in worker_slots(self.targets, self.interval, self.workers):
            client = ProbeClient(self.child, headers)
            thread = threading.Thread(target=self.run, args=(client, slots, at), daemon=True)
            self.clients.append(client)
            self.threads.append(thread)
            thread.start()

    def run(self, client: ProbeClient, slots: Sequence[Slot], start: float) -> None:
        try:
            self.probe_cycles(client, slots, start)
        except BaseException as error:  # handed to the main thread by raise_if_failed
            with self.lock:
                self.errors.append(error)
        finally:
            client.close()

    def probe_cycles(self, client: ProbeClient, slots: Sequence[Slot], start: float) -> None:
        cycle = start
        while not self.stopping.is_set():
            for slot in slots:
                if self.stopping.wait(max(0.0, cycle + slot.offset - time.monotonic())):
                    return
                call = client.probe(slot.target)
                with self.lock:
                    self.calls.append(call)
            cycle += self.interval

    def raise_if_failed(self) -> None:
        with self.lock:
            error = self.errors[0] if self.errors else None
        if isinstance(error, BenchmarkBroken):
            raise error
        if error is not None:
            raise BenchmarkBroken(f"/probe on {self.child.name} failed: {error!r}") from error

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    @property
    def reconnects(self) -> int:
        return sum(client.reconnects for client in self.clients)


# --- timing both exporters from a quiet process ----------------------------------------------


@dataclass(frozen=True)
class Timed:
    finished: float
    latency: float
    success: bool


@dataclass(frozen=True)
class TimedRequests:
    """Latencies of site-status ``/metrics`` and of blackbox ``/probe``, taken side by side."""

    metrics: list[Timed]
    probes: list[Timed]


class RawConnection:
    """A keep-alive HTTP/1.1 client that does no more than reading a Content-Length response
    needs: Python's http.client spends about 0.15 ms parsing each response head (email
    package), which would be timed as the server's for both exporters."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self, path: str, headers: dict[str, str]) -> tuple[float, int, bytes]:
        """Seconds from sending the request to the last byte, the status and the body. Until the
        last byte, only what finds it runs (two C calls per chunk): on this VM a Python line
        run after an idle second costs tens of µs, which would be timed as the server's."""
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        before = time.perf_counter()
        self.sock.sendall(request)
        received = self.receive()
        end = received.find(b"\r\n\r\n")
        while end < 0:
            received += self.receive()
            end = received.find(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(received, 0, end)
        total = end + 4 + (int(length[1]) if length else 0)
        while len(received) < total:
            received += self.receive()
        latency = time.perf_counter() - before
        head, body = received[:end], received[end + 4 : total]
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        )
        if fields.get(b"content-encoding") == b"gzip":
            body = gzip.decompress(body)
        return latency, int(head.split(b" ", 2)[1]), body

    def receive(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise BenchmarkBroken("the connection closed mid-response")
        return chunk

    def close(self) -> None:
        self.sock.close()


def time_requests(
    ports: tuple[int, int],
    targets: Sequence[str],
    every: float,
    until: float,
    results: Connection,
) -> None:
    """In the timing process: one site-status scrape and one blackbox /probe every ``every``
    seconds, each over its own keep-alive connection, both with Prometheus' headers.

    The two are half an interval apart, so that each follows the same idle time: this VM's
    haltpoll cpuidle keeps an idle vCPU polling for a while before it halts, so a request right
    after another finds the machine awake. (Measured: blackbox's median did not move, 1.55 ms
    back to back and 1.58 ms apart; the spacing is kept because it is the fair setup, and
    Prometheus' scrapes of different targets are not back to back either.)
    """
    site, blackbox = (RawConnection(port) for port in ports)
    headers = prometheus_headers(every)
    timed = TimedRequests([], [])
    tick = time.monotonic()
    n = 0
    try:
        while tick < until:
            latency, status, body = site.get("/metrics", headers)
            ok = status == 200 and b"site_status_" in body
            timed.metrics.append(Timed(time.monotonic(), latency, ok))
            time.sleep(max(0.0, tick + every / 2 - time.monotonic()))
            latency, status, body = blackbox.get(probe_path(targets[n % len(targets)]), headers)
            ok = status == 200 and probe_succeeded(body)
            timed.probes.append(Timed(time.monotonic(), latency, ok))
            n += 1
            tick += every
            time.sleep(max(0.0, tick - time.monotonic()))
    finally:
        site.close()
        blackbox.close()
        results.send(timed)
        results.close()


@dataclass
class LatencyTimer:
    """A forked process that times both exporters while nothing else runs in it: in the
    benchmark's own process, four threads drive blackbox and would hold the GIL when a timed
    response arrives, inflating whatever is timed there."""

    site: Child
    blackbox: Child
    targets: Sequence[str]
    every: float
    process: multiprocessing.process.BaseProcess | None = None
    receiver: Connection | None = None

    def start(self, until: float) -> None:
        context = multiprocessing.get_context("fork")  # before the load's threads start
        self.receiver, sender = context.Pipe(duplex=False)
        args = ((self.site.port, self.blackbox.port), self.targets, self.every, until, sender)
        self.process = context.Process(target=time_requests, args=args, daemon=True)
        self.process.start()
        sender.close()

    def results(self, timeout: float) -> TimedRequests:
        if self.receiver is None or self.process is None:
            raise BenchmarkBroken("the latency timer was not started")
        if not self.receiver.poll(timeout):
            raise BenchmarkBroken(f"the latency timer gave no results within {timeout:g}s")
        timed: TimedRequests = self.receiver.recv()
        self.process.join(timeout=5)
        return timed

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()


# --- readings ---------------------------------------------------------------------------------


def labels(text: bytes) -> dict[bytes, bytes]:
    return {match[1]: match[2] for match in _LABEL.finditer(text)}


def http_probe_runs(body: bytes) -> dict[str, float]:
    """``site_status_probe_runs_total{kind="http"}`` from a /metrics body, by status."""
    runs: dict[str, float] = {}
    for match in _RUNS_SAMPLE.finditer(body):
        found = labels(match[1])
        if found.get(b"kind") == HTTP_KIND.encode():
            status = found.get(b"status", b"").decode()
            runs[status] = runs.get(status, 0.0) + float(match[2])
    return runs


@dataclass(frozen=True)
class Reading:
    """CPU of site-status and blackbox, and site-status's http runs by status, at one moment."""

    at: float
    site_cpu: float
    blackbox_cpu: float
    site_runs: dict[str, float]


def reading(scraper: Scraper, blackbox: Child) -> Reading:
    at = time.monotonic()
    site_cpu = cpu_seconds(scraper.child.process.pid)
    blackbox_cpu = cpu_seconds(blackbox.process.pid)
    runs = http_probe_runs(scraper.scrape().body)
    return Reading(at, site_cpu, blackbox_cpu, runs)


def raise_if_broken(children: Sequence[Child], load: ProbeLoad) -> None:
    for child in children:
        child.raise_if_dead()
    load.raise_if_failed()


def measure_for(
    scraper: Scraper,
    timer: LatencyTimer,
    load: ProbeLoad,
    children: Sequence[Child],
    options: argparse.Namespace,
) -> tuple[Reading, Reading, TimedRequests]:
    """Drive the blackbox load and time both exporters for the duration; the window's readings.

    The window starts one interval in (once the first probe cycle completed) and ends when the
    load has stopped, at the end of the run.
    """
    start = time.monotonic()
    end = start + options.duration
    timer.start(until=end)
    load.start(start)
    first: Reading | None = None
    while time.monotonic() < end:
        raise_if_broken(children, load)
        if first is None and time.monotonic() >= start + options.interval:
            first = reading(scraper, load.child)
        time.sleep(max(0.0, min(1.0, end - time.monotonic())))
    load.stop()
    raise_if_broken(children, load)
    timed = timer.results(timeout=60)
    last = reading(scraper, load.child)
    if first is None:
        raise BenchmarkBroken("the run ended before the CPU window started")
    return first, last, timed


# --- figures ----------------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    requests: int
    median_ms: float
    p99_ms: float
    loaded_median_ms: float | None
    rss_mib: float
    cpu_window_seconds: float
    window_seconds: float
    probes_in_window: int
    failed_in_window: int
    reconnects: int

    @property
    def cpu_per_probe_ms(self) -> float:
        return (
            1000 * self.cpu_window_seconds / self.probes_in_window
            if self.probes_in_window
            else math.nan
        )


def latency_figures(latencies: Sequence[float]) -> tuple[float, float]:
    """Median and p99 in milliseconds."""
    if not latencies:
        raise BenchmarkBroken("no requests were timed")
    return 1000 * statistics.median(latencies), 1000 * percentile(latencies, 0.99)


def site_figures(
    scraper: Scraper, timed: Sequence[Timed], first: Reading, last: Reading
) -> Figures:
    if not all(t.success for t in timed):
        raise BenchmarkBroken("a timed /metrics scrape of site-status failed")
    median, p99 = latency_figures([t.latency for t in timed])
    statuses = first.site_runs.keys() | last.site_runs.keys()
    runs = {s: last.site_runs.get(s, 0.0) - first.site_runs.get(s, 0.0) for s in statuses}
    return Figures(
        name=scraper.child.name,
        requests=len(timed),
        median_ms=median,
        p99_ms=p99,
        loaded_median_ms=None,
        rss_mib=rss_mib(scraper.child.process.pid),
        cpu_window_seconds=last.site_cpu - first.site_cpu,
        window_seconds=last.at - first.at,
        probes_in_window=round(sum(runs.values())),
        failed_in_window=round(sum(n for s, n in runs.items() if s.lower() != "ok")),
        reconnects=scraper.reconnects,
    )


def blackbox_figures(
    load: ProbeLoad, timed: Sequence[Timed], first: Reading, last: Reading
) -> Figures:
    median, p99 = latency_figures([t.latency for t in timed])
    loaded_median, _ = latency_figures([c.latency for c in load.calls])
    calls: list[ProbeCall | Timed] = [*load.calls, *timed]
    in_window = [c for c in calls if first.at <= c.finished <= last.at]
    return Figures(
        name=load.child.name,
        requests=len(timed),
        median_ms=median,
        p99_ms=p99,
        loaded_median_ms=loaded_median,
        rss_mib=rss_mib(load.child.process.pid),
        cpu_window_seconds=last.blackbox_cpu - first.blackbox_cpu,
        window_seconds=last.at - first.at,
        probes_in_window=len(in_window),
        failed_in_window=sum(1 for c in in_window if not c.success),
        reconnects=load.reconnects,
    )


def targets(site: Figures, blackbox: Figures) -> list[Target]:
    cpu_limit = CPU_RATIO_TARGET * blackbox.cpu_per_probe_ms
    median_limit = MEDIAN_RATIO_TARGET * blackbox.median_ms
    return [
        Target(
            f"site-status CPU per HTTP probe <= blackbox_exporter's "
            f"({site.cpu_per_probe_ms:.3f} ms <= {cpu_limit:.3f} ms)",
            site.cpu_per_probe_ms <= cpu_limit,
        ),
        Target(
            f"site-status /metrics median <= 1/{1 / MEDIAN_RATIO_TARGET:g} of blackbox_exporter's "
            f"/probe median ({site.median_ms:.2f} ms <= {median_limit:.2f} ms)",
            site.median_ms <= median_limit,
        ),
    ]


# --- the report -------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    return {
        "site_status": first_output_line(site_status_argv("--version"), site_status_env()),
        "blackbox_exporter": first_output_line([BLACKBOX, "--version"]),
        "nginx": first_output_line([NGINX, "-v"]).removeprefix("nginx version: "),
    }


def table_rows(site: Figures, blackbox: Figures) -> list[tuple[str, str, str]]:
    return [
        ("HTTP probes in window", f"{site.probes_in_window}", f"{blackbox.probes_in_window}"),
        ("failed probes in window", f"{site.failed_in_window}", f"{blackbox.failed_in_window}"),
        (
            "CPU in window (s)",
            f"{site.cpu_window_seconds:.2f}",
            f"{blackbox.cpu_window_seconds:.2f}",
        ),
        (
            "CPU per HTTP probe (ms)",
            f"{site.cpu_per_probe_ms:.3f}",
            f"{blackbox.cpu_per_probe_ms:.3f}",
        ),
        ("RSS at end (MiB)", f"{site.rss_mib:.1f}", f"{blackbox.rss_mib:.1f}"),
        ("timed requests", f"{site.requests} /metrics", f"{blackbox.requests} /probe"),
        ("median (ms)", f"{site.median_ms:.2f}", f"{blackbox.median_ms:.2f}"),
        ("p99 (ms)", f"{site.p99_ms:.2f}", f"{blackbox.p99_ms:.2f}"),
        ("/probe median of the load (ms)", "", f"{blackbox.loaded_median_ms or math.nan:.2f}"),
        ("CPU window (s)", f"{site.window_seconds:.1f}", f"{blackbox.window_seconds:.1f}"),
        ("reconnects", f"{site.reconnects}", f"{blackbox.reconnects}"),
    ]


def report_lines(
    options: argparse.Namespace,
    site: Figures,
    blackbox: Figures,
    machine: dict[str, Any],
    names: dict[str, str],
) -> list[str]:
    cycles = site.window_seconds / options.interval
    lines = [
        f"site-status HTTP benchmark, {machine['date']}",
        f"python {machine['python']}; {machine['nproc']} CPUs (nproc), {machine['kernel']}, "
        f"{machine['cpu']}",
        f"{names['nginx']}: {options.probes} health endpoints on loopback",
        f"{names['site_status']}: {options.probes} http probes, interval {options.interval:g}s, "
        f"timeout {PROBE_TIMEOUT}",
        f"{names['blackbox_exporter']}: module {BLACKBOX_MODULE} (http, timeout {PROBE_TIMEOUT}); "
        f"one /probe per endpoint per {options.interval:g}s, spread over the interval, "
        f"{PROBE_CONNECTIONS} keep-alive connections, Prometheus headers",
        f"timed side by side from a separate quiet process, every {options.scrape_interval:g}s: "
        "one site-status /metrics and, half an interval later, one blackbox /probe, each over "
        "its own keep-alive connection, with Prometheus headers (gzip), by a minimal HTTP/1.1 "
        "client",
        f"{options.duration:g}s of probing; CPU window: from one interval after start to the end, "
        f"{cycles:.1f} probe cycles (site-status CPU includes serving its scrapes)",
        "",
    ]
    return lines + comparison_lines(
        "blackbox_exporter", table_rows(site, blackbox), targets(site, blackbox)
    )


def json_document(
    options: argparse.Namespace,
    site: Figures,
    blackbox: Figures,
    machine: dict[str, Any],
    names: dict[str, str],
) -> dict[str, Any]:
    return {
        "machine": machine,
        "versions": names,
        "options": options_document(options),
        "site_status": {**asdict(site), "cpu_per_probe_ms": site.cpu_per_probe_ms},
        "blackbox_exporter": {**asdict(blackbox), "cpu_per_probe_ms": blackbox.cpu_per_probe_ms},
        "targets": [asdict(t) for t in targets(site, blackbox)],
    }


# --- the run ----------------------------------------------------------------------------------


def started_children(workdir: Path, options: argparse.Namespace) -> list[Child]:
    """nginx, site-status and blackbox_exporter, appended as they start (for the caller to stop)."""
    children: list[Child] = []
    try:
        nginx = started_nginx(workdir)
        children.append(nginx)
        wait_serving(nginx, "/healthz/0")
        config = written_config(workdir, nginx.port, options.probes, options.interval)
        children.append(started_site_status(config, workdir))
        children.append(started_blackbox(workdir))
        for child in children[1:]:
            wait_ready(child)
    except BaseException:
        for child in reversed(children):
            stop(child)
        raise
    return children


def measured_figures(options: argparse.Namespace, workdir: Path) -> tuple[Figures, Figures]:
    """Start nginx and both exporters, measure for the duration, stop them; the figures."""
    children: list[Child] = []
    scraper: Scraper | None = None
    timer: LatencyTimer | None = None
    load: ProbeLoad | None = None
    try:
        children = started_children(workdir, options)
        nginx, site, blackbox = children
        targets_ = [healthz_url(nginx.port, n) for n in range(options.probes)]
        # The figures are read in the format the timer scrapes: a second format would be
        # rendered ahead every second as well, for as long as it is asked for.
        scraper = Scraper(site, prometheus_headers(options.scrape_interval))
        timer = LatencyTimer(site, blackbox, targets_, options.scrape_interval)
        load = ProbeLoad(blackbox, targets_, options.interval)
        first, last, timed = measure_for(scraper, timer, load, children, options)
        return (
            site_figures(scraper, timed.metrics, first, last),
            blackbox_figures(load, timed.probes, first, last),
        )
    finally:
        if timer is not None:
            timer.stop()
        if load is not None:
            load.stop()
        if scraper is not None:
            scraper.close()
        for child in reversed(children):
            stop(child)


def main(argv: Sequence[str] | None = None) -> int:
    benchmark = Benchmark(
        "site-status-bench-http-",
        [NGINX, BLACKBOX],
        versions,
        measured_figures,
        report_lines,
        json_document,
    )
    return run_benchmark(benchmark, parsed_options(argv))


if __name__ == "__main__":
    sys.exit(main())
