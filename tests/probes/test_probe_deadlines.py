"""Every kind whose docs promise a graded timeout gives up before the runner does.

Each probe runs through the real ``ProbeRunner`` (the boundary that turns a run still going at
its timeout into UNKNOWN "timed out after ...") against a peer that never answers: a silent DNS
server, a TCP server that accepts and says nothing, an HTTP server that stalls after its
headers, a hung FUSE mount, a drush that hangs. The result must be the probe's own graded one.
While the deadline passes, another task holds the event loop for 40 ms (what a busy exporter
does), so a margin of a few milliseconds would not be enough.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from exporter.context import ProbeRuntime
from exporter.failure_text import timed_out
from exporter.probe_api import ProbeConfig, Reason, Result, Status
from exporter.registry import default_registry
from exporter.run_stats import RunStats
from exporter.scheduler import ProbeRunner
from tests.support.http_server import misbehaving_server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.fuse_mounts import FuseMounts

REGISTRY = default_registry()
CRITICAL, UNKNOWN = Status.CRITICAL, Status.UNKNOWN
DRUSH = str(Path(__file__).resolve().parents[1] / "support" / "drush")
#: Held on the event loop around the probe's own deadline.
LOOP_HOLD = 0.04


async def run_through_runner(fields: dict[str, Any], timeout: float) -> tuple[Result, float]:
    """The probe's result from the real runner, with the loop held around its own deadline."""
    kind = REGISTRY.get(fields["kind"])
    config: ProbeConfig = kind.config.model_validate({"name": "p", **fields})
    runner = ProbeRunner(REGISTRY, ProbeRuntime(), RunStats())
    margin = min(0.25, timeout / 10)

    async def hold_the_loop() -> None:
        await anyio.sleep(timeout - margin - LOOP_HOLD / 2)
        time.sleep(LOOP_HOLD)  # noqa: ASYNC251 (on purpose: CPU-bound work elsewhere, on the loop)

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        group.start_soon(hold_the_loop)
        result, _ = await runner.run(config, timeout)
    return result, time.monotonic() - started


@pytest.fixture
def silent_udp() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        yield int(silent.getsockname()[1])


@pytest.fixture
def silent_tcp() -> Iterator[int]:
    """A listener that accepts (the kernel does) and never sends a byte."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except (TimeoutError, OSError):
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            stop.set()
            thread.join(timeout=2)
            for connection in accepted:
                connection.close()


def assert_graded_by_the_probe(result: Result, elapsed: float, timeout: float) -> None:
    # The runner's own words name no target: "timed out after 1.5s".
    assert result.summary != timed_out(timeout).text, result.summary
    assert elapsed < timeout + 0.5


@pytest.mark.skipif(sys.platform != "linux", reason="loopback UDP")
async def test_dns_server_that_never_answers_is_critical(silent_udp: int) -> None:
    # dnspython's own lifetime overshoots by its retry backoff: 3.2 s for a lifetime of 3 s.
    fields = {"kind": "dns", "query": "site.test", "server": f"127.0.0.1:{silent_udp}"}
    result, elapsed = await run_through_runner(fields, timeout=3.0)
    assert_graded_by_the_probe(result, elapsed, 3.0)
    assert result.status is Status.CRITICAL
    assert result.summary == f"timed out after 3s waiting for an answer from 127.0.0.1:{silent_udp}"


async def test_tcp_peer_that_never_answers_is_critical(silent_tcp: int) -> None:
    fields = {"kind": "tcp", "host": "127.0.0.1", "port": silent_tcp, "expect": "^220 "}
    result, elapsed = await run_through_runner(fields, timeout=1.5)
    assert_graded_by_the_probe(result, elapsed, 1.5)
    assert result.status is Status.CRITICAL
    waiting = f"timed out after 1.5s waiting for /^220 / from 127.0.0.1:{silent_tcp}"
    assert result.summary == waiting


async def test_tls_handshake_that_never_ends_is_critical(silent_tcp: int) -> None:
    fields = {"kind": "tcp", "host": "127.0.0.1", "port": silent_tcp, "tls": True}
    result, elapsed = await run_through_runner(fields, timeout=1.5)
    assert_graded_by_the_probe(result, elapsed, 1.5)
    assert result.status is Status.CRITICAL
    handshake = f"timed out after 1.5s in the TLS handshake with 127.0.0.1:{silent_tcp}"
    assert result.summary == handshake


async def test_http_body_that_never_comes_is_graded() -> None:
    with misbehaving_server() as server:
        server.route("/healthz", behaviour="stall_after_headers")
        fields = {"kind": "http", "url": server.url("/healthz")}
        port = server.port
        result, elapsed = await run_through_runner(fields, timeout=1.5)
    assert_graded_by_the_probe(result, elapsed, 1.5)
    assert result.status is Status.CRITICAL
    # The stage is said (test_http.py checks the body's words); on a loaded machine the
    # headers may not have come before the deadline.
    assert result.summary.startswith("timed out after 1.5s "), result.summary
    assert f" 127.0.0.1:{port}" in result.summary


async def test_hung_drush_is_critical(tmp_path: Path) -> None:
    env = {"DRUSH_STANDIN_MODE": "hang", "DRUSH_STANDIN_PIDS": str(tmp_path / "pids")}
    fields = {"kind": "drupal", "drush": DRUSH, "env": env, "status_interval": 0}
    result, elapsed = await run_through_runner(fields, timeout=3.0)
    assert_graded_by_the_probe(result, elapsed, 3.0)
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("timed out after "), result.summary
    assert result.summary.endswith(" running drush")


@pytest.mark.parametrize(
    ("kind", "status"), [("mount", CRITICAL), ("disk", UNKNOWN), ("file", UNKNOWN)]
)
async def test_hung_mount_is_graded_by_the_probe(
    fuse_mount: FuseMounts, kind: str, status: Status
) -> None:
    mount = fuse_mount("hung")
    # One wording for a hung mount in every kind (docs/reasons.md), the probe's timeout said.
    by_kind: dict[str, tuple[dict[str, Any], str]] = {
        "mount": (
            {"kind": "mount", "mountpoints": [mount.path]},
            f"{mount.path}: hung: no answer within 1.5s",
        ),
        "disk": (
            {"kind": "disk", "path": mount.path},
            f"{mount.path}: hung: no answer within 1.5s",
        ),
        "file": (
            {"kind": "file", "path": f"{mount.path}/hello"},
            f"{mount.path}/hello: hung: no answer from {mount.path} within 1.5s",
        ),
    }
    fields, summary = by_kind[kind]
    result, elapsed = await run_through_runner(fields, timeout=1.5)
    assert_graded_by_the_probe(result, elapsed, 1.5)
    assert (result.status, result.summary, result.why) == (status, summary, Reason.HUNG)
