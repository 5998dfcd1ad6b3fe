"""The gate against sources that misbehave: slow, endless, malformed, or writing to the terminal.

Findings 2, 5 and 7 of issue 23: each of these gave a traceback, a hang, a 24 GB process or a
"GATE OK" drawn over a failure before.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from exporter.cli import build_parser
from exporter.gate import command
from exporter.gate.fetch import Fetcher
from exporter.gate.sources import ExporterSource
from tests.support.exporter_process import command_env
from tests.support.hostile_http import fixed, hostile_server


def gate_process(
    *args: str, timeout: float = 30, memory: int | None = None
) -> tuple[int, str, str, float]:
    """``site-status gate`` as a pipeline runs it; returns exit code, stdout, stderr, seconds."""

    def limit() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "exporter.cli", "gate", *args],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=timeout,
        check=False,
        preexec_fn=limit,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def gate_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    args = build_parser().parse_args(["gate", *argv])
    code = command.run(args)
    return code, capsys.readouterr().out


def trickled_headers(connection: socket.socket, stopping: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stopping.wait(0.3):
        connection.sendall(b"X-Slow: one header line at a time\r\n")


def trickled_body(connection: socket.socket, stopping: threading.Event) -> None:
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    )
    while not stopping.wait(0.3):
        connection.sendall(b" ")


def endless_body(connection: socket.socket, stopping: threading.Event) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[")
    chunk = b"1," * (512 * 1024)
    while not stopping.is_set():
        connection.sendall(chunk)


@pytest.mark.parametrize("answer", [trickled_headers, trickled_body], ids=["headers", "body"])
def test_a_trickling_source_is_unknown_within_the_timeout(answer: Any) -> None:
    with hostile_server(answer) as server:
        code, out, err, seconds = gate_process("--url", server.url, "--timeout", "2s")
    assert code == 3, out + err
    assert out.splitlines() == [
        f"GATE UNKNOWN - {server.url}/status: no complete answer within 2s "
        "(--timeout covers connecting, headers and body)"
    ]
    assert seconds < 8


def test_an_endless_body_is_cut_off_at_the_cap_in_bounded_memory() -> None:
    with hostile_server(endless_body) as server:
        code, out, err, _ = gate_process(
            "--prometheus", server.url, memory=1024 * 1024 * 1024, timeout=60
        )
    assert code == 3, out + err[-2000:]
    assert out.splitlines() == [
        f"GATE UNKNOWN - {server.url}/api/v1/query: the answer is larger than 16.0MiB"
    ]
    assert err == ""


def test_a_watch_ends_unknown_when_its_source_never_finishes_an_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The unreachable rule (30 s, shortened here) holds because every read ends in time."""
    monkeypatch.setattr(command, "UNREACHABLE_GRACE", 2.0)
    with hostile_server(trickled_headers) as server:
        finished: list[tuple[int, str]] = []
        argv = ("--url", server.url, "--watch", "10m", "--timeout", "0.5s", "--poll", "0.2s")
        thread = threading.Thread(
            target=lambda: finished.append(gate_in_process(capsys, *argv)), daemon=True
        )
        started = time.monotonic()
        thread.start()
        thread.join(timeout=15)
    assert finished, "the watch did not end"
    code, out = finished[0]
    assert code == 3
    assert out.splitlines()[0].startswith(f"GATE UNKNOWN - {server.url}/status: no complete")
    assert time.monotonic() - started < 8


PROMETHEUS_MALFORMED = {
    "data null": {"status": "success", "data": None},
    "result an object": {"status": "success", "data": {"resultType": "vector", "result": {}}},
    "short value": {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {"site": "a"}, "value": [1]}]},
    },
    "metric a list": {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": [], "value": [1, "0"]}]},
    },
    "a string": "success",
}


@pytest.mark.parametrize("document", PROMETHEUS_MALFORMED.values(), ids=PROMETHEUS_MALFORMED)
def test_a_malformed_prometheus_answer_is_unknown_in_one_line(
    document: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with hostile_server(fixed(json.dumps(document).encode())) as server:
        code, out = gate_in_process(capsys, "--prometheus", server.url)
    assert code == 3
    (line,) = out.splitlines()
    assert line.startswith(f"GATE UNKNOWN - {server.url}: ")
    assert "not a Prometheus answer" in line


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000, b'{"site": {"name": "a"}, "probes": {}, "code": 0}', b'{"site": "a"}'],
    ids=["nested", "probes an object", "site a string"],
)
def test_a_malformed_status_document_is_unknown_in_one_line(
    body: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    with hostile_server(fixed(body)) as server:
        code, out = gate_in_process(capsys, "--url", server.url)
    assert code == 3
    (line,) = out.splitlines()
    assert line.startswith(f"GATE UNKNOWN - {server.url}/status: ")


def status_document(name: str, summary: str, code: int = 2, **probe: Any) -> bytes:
    return json.dumps(
        {
            "site": {"name": name, "environment": "prod", "tier": "priprod", "profile": "x"},
            "status": "CRITICAL",
            "code": code,
            "maintenance": False,
            "probes": [{"name": "web", "code": code, "summary": summary, **probe}],
        }
    ).encode()


def test_names_and_summaries_cannot_write_to_the_terminal() -> None:
    """Finding 2: a site name that returns the carriage and clears the line drew
    "GATE OK - 3 site(s) at most OK" over the failure."""
    forged = "shop\r\x1b[2K\x1b[1AGATE OK - 3 site(s) at most OK\x9b2J\u202e"
    body = status_document(forged, "down\nGATE OK - all good\x1b]0;title\x07")
    with hostile_server(fixed(body)) as server:
        code, out, _, _ = gate_process("--url", server.url)
    assert code == 1
    assert out.splitlines() == [
        "GATE FAIL - 1 of 1 site(s) above OK: "
        "shop\\r\\x1b[2K\\x1b[1AGATE OK - 3 site(s) at most OK\\x9b2J\\u202e",
        "shop\\r\\x1b[2K\\x1b[1AGATE OK - 3 site(s) at most OK\\x9b2J\\u202e CRITICAL - "
        "web: down\\nGATE OK - all good\\x1b]0;title\\x07",
    ]


@pytest.mark.parametrize("interval", ["NaN", "1e300", "Infinity"])
def test_a_probe_interval_from_the_source_cannot_stretch_the_grace_without_end(
    interval: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 7: the watch's grace is one interval of the failing probe; a source's NaN or
    1e300 became that grace and the watch never ended."""
    body = status_document("shop", "down").replace(
        b'"summary": "down"', b'"summary": "down", "interval_seconds": ' + interval.encode()
    )
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        assert clock[0] < 48 * 3600, "the watch did not end within two days"

    with hostile_server(fixed(body)) as server:
        args = build_parser().parse_args(["gate", "--url", server.url, "--watch", "1m"])
        with Fetcher(5.0) as fetcher:
            source = ExporterSource(args.url, fetcher, False)
            gate = command.Gate(args, source, sys.stdout, sys.stderr, lambda: clock[0], sleep)
            code = gate.run()
    assert code == 1
    assert clock[0] <= 3600 + 5
    assert "degraded after" in capsys.readouterr().out
