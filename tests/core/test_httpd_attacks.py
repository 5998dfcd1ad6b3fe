"""Prometheus always gets its scrape: a scraper on a new connection every 0.25 s during attacks
that held every connection slot of the old server (issue 13 §1).

The scraper and the attackers run in forked processes of their own. Half of the attackers'
connections come from the scraper's own address, half from ten other loopback addresses, and
each is reopened whenever the server closes it. The head and send deadlines are compressed from
10 s and 30 s to 2 s; the loris sends a byte every second, well inside what the old per-byte
deadline allowed, as its 5 s were inside 10 s.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import pytest

from exporter.web import httpd
from exporter.web.httpd import HttpServer, Request, Response

SCRAPER = "127.0.0.1"
OTHER_HOSTS = [f"127.0.0.{n}" for n in range(2, 12)]
COMPRESSED_DEADLINE = 2.0
LORIS_BYTE_INTERVAL = 1.0
SCRAPES = 24
SCRAPE_EVERY = 0.25
P99_TARGET = 0.25
METRICS = b"site_status_probe_status 0\n" * 400
BIG = b"x" * (200 << 10)
TCP_ESTABLISHED = 1


def answer(request: Request) -> Response:
    return Response(200, "text/plain", BIG if request.path == "/big" else METRICS)


def attacker_socket(port: int, n: int, first_bytes: bytes) -> socket.socket:
    connection = socket.socket()
    # Half from the scraper's own address, half from ten other hosts.
    connection.bind((SCRAPER if n % 2 else OTHER_HOSTS[n // 2 % len(OTHER_HOSTS)], 0))
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes nothing
    connection.connect(("127.0.0.1", port))
    if first_bytes:
        connection.sendall(first_bytes)
    connection.setblocking(False)
    return connection


def closed(connection: socket.socket) -> bool:
    """Whether the server closed ``connection`` (found without reading from it)."""
    state = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    return state != TCP_ESTABLISHED


def attack(kind: str, port: int, stop: Event) -> None:
    """Hold ``kind`` connections open until ``stop``; reopen each one the server closes."""
    count, first, trickle = {
        "idle": (300, b"", b""),
        "loris": (100, b"", b"GET /loris HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 10000),
        "non-reader": (100, b"GET /big HTTP/1.1\r\n\r\n" * 50, b""),
    }[kind]
    connections: dict[int, socket.socket] = {}
    sent = dict.fromkeys(range(count), 0)

    def open_one(n: int) -> None:
        with contextlib.suppress(OSError):
            connections[n] = attacker_socket(port, n, first)
            sent[n] = 0

    for n in range(count):
        open_one(n)
    next_byte = time.monotonic()
    while not stop.wait(0.05):
        for n in range(count):
            connection = connections.get(n)
            if connection is None or closed(connection):
                if connection is not None:
                    connection.close()
                open_one(n)
        if trickle and time.monotonic() >= next_byte:
            next_byte += LORIS_BYTE_INTERVAL
            for n, connection in connections.items():
                with contextlib.suppress(OSError):
                    connection.send(trickle[sent[n] : sent[n] + 1])
                    sent[n] += 1


def scrape(port: int) -> tuple[str, float]:
    """One scrape on a new connection from the scraper's address: "" if answered with 200, or
    what went wrong; and how long it took."""
    started, received = time.monotonic(), b""
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=2, source_address=(SCRAPER, 0)
        ) as c:
            c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while chunk := c.recv(65536):
                received += chunk
    except OSError as error:
        return f"{error!r} after {received[:40]!r}", time.monotonic() - started
    ok = received.startswith(b"HTTP/1.1 200 ") and received.endswith(METRICS)
    return "" if ok else f"answered {received[:40]!r}", time.monotonic() - started


def scrape_every(port: int, results: Connection) -> None:
    """SCRAPES scrapes, one every SCRAPE_EVERY, each on a new connection; sent to ``results``."""
    done = []
    for _ in range(SCRAPES):
        started = time.monotonic()
        done.append(scrape(port))
        time.sleep(max(0.0, SCRAPE_EVERY - (time.monotonic() - started)))
    results.send(done)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpServer]:
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT", COMPRESSED_DEADLINE)
    monkeypatch.setattr(httpd, "SEND_TIMEOUT", COMPRESSED_DEADLINE)
    http = HttpServer("127.0.0.1", 0, answer, server_name="test/1")
    http.start()
    yield http
    http.close()


@pytest.fixture
def attacking(server: HttpServer) -> Iterator[Callable[[str], None]]:
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    processes: list[multiprocessing.process.BaseProcess] = []

    def start(kind: str) -> None:
        process = context.Process(target=attack, args=(kind, server.port, stop), daemon=True)
        process.start()
        processes.append(process)
        time.sleep(1.5)  # every connection opened, every slot of the old server taken

    yield start
    stop.set()
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


@pytest.mark.parametrize("kind", ["idle", "loris", "non-reader"])
def test_a_scraper_is_answered_during_an_attack(
    server: HttpServer, attacking: Callable[[str], None], kind: str
) -> None:
    attacking(kind)
    # The scraper is a process of its own, as Prometheus is: in this one it would wait for the
    # server's threads to hand it the GIL between its connect and its request.
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    scraper = context.Process(target=scrape_every, args=(server.port, sending), daemon=True)
    scraper.start()
    assert receiving.poll(SCRAPES * SCRAPE_EVERY + 30), "the scraper never reported"
    results: list[tuple[str, float]] = receiving.recv()
    scraper.join(timeout=5)
    failures = [failure for failure, _ in results if failure]
    latencies = sorted(seconds for _, seconds in results)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    assert not failures, (
        f"{len(failures)}/{SCRAPES} not answered during the {kind} attack: {failures}"
    )
    assert p99 < P99_TARGET, (
        f"p99 {p99 * 1000:.0f} ms (median {statistics.median(latencies) * 1000:.1f} ms)"
    )
