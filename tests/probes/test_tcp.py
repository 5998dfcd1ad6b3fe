"""The ``tcp`` probe against real loopback servers: plain lines, TLS with test CAs, silence."""

from __future__ import annotations

import datetime
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pydantic
import pytest
import trustme

from exporter.probe_api import Result, Status
from probes import tcp, tls
from tests.support.context import make_context
from tests.support.timing import LOADED

if TYPE_CHECKING:
    from collections.abc import Iterator

Behaviour = Literal["line", "silent"]
BANNER = b"HELLO site-status\r\n"
NOW = datetime.datetime.now(datetime.UTC)


class Handler(socketserver.BaseRequestHandler):
    """``line``: greets, then answers each line with ``ECHO <line>``; ``silent``: never writes."""

    server: LoopbackServer

    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(10)
        try:
            if self.server.tls_context is not None:
                connection = self.server.tls_context.wrap_socket(connection, server_side=True)
            if self.server.behaviour == "line":
                self.echo_lines(connection)
            else:
                while connection.recv(4096):
                    pass
        except (OSError, ssl.SSLError):
            pass  # the probe rejected our certificate, or went away

    @staticmethod
    def echo_lines(connection: socket.socket) -> None:
        connection.sendall(BANNER)
        with connection.makefile("rb") as lines:
            for line in lines:
                connection.sendall(b"ECHO " + line.rstrip(b"\r\n") + b"\n")


class LoopbackServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: Behaviour, tls_context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour = behaviour
        self.tls_context = tls_context

    @property
    def port(self) -> int:
        return int(self.server_address[1])


Serve = Callable[..., int]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve("line", tls_context=None) -> port``: a server in a thread, shut down in teardown."""
    servers: list[LoopbackServer] = []

    def start(behaviour: Behaviour = "line", tls_context: ssl.SSLContext | None = None) -> int:
        server = LoopbackServer(behaviour, tls_context)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        return server.port

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(
    ca: trustme.CA, not_after: datetime.datetime, not_before: datetime.datetime | None = None
) -> ssl.SSLContext:
    """A server context: a leaf for ``localhost`` and ``127.0.0.1`` valid until ``not_after``."""
    leaf = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=not_before or NOW - datetime.timedelta(days=1),
        not_after=not_after,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return context


def free_closed_port() -> int:
    """A port nothing listens on (bound a moment ago, then closed)."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


async def run_probe(budget: float = 5.0, **fields: Any) -> Result:
    config = tcp.TcpProbe.model_validate(
        {"name": "t", "kind": "tcp", "host": "127.0.0.1", **fields}
    )
    return await tcp.KIND.run(config, make_context(budget))


def sample_values(result: Result) -> dict[str, float]:
    return {sample.family: sample.value for sample in result.samples}


# --- plain TCP ----------------------------------------------------------------------------------


async def test_open_port_is_ok(serve: Serve) -> None:
    port = serve("silent")
    result = await run_probe(port=port)
    assert result.status is Status.OK
    assert result.summary.startswith("connected in ")
    assert result.summary.endswith("ms")
    assert result.details["address"] == "127.0.0.1"
    assert set(sample_values(result)) == {"site_status_tcp_connect_seconds"}
    assert 0 < sample_values(result)["site_status_tcp_connect_seconds"] < LOADED


async def test_localhost_name_resolves_and_connects(serve: Serve) -> None:
    result = await run_probe(host="localhost", port=serve("line"), expect="^HELLO")
    assert result.status is Status.OK, result.summary


async def test_refused_port_is_critical() -> None:
    port = free_closed_port()
    result = await run_probe(port=port)
    assert result.status is Status.CRITICAL
    assert result.summary == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert result.samples == ()


async def test_banner_matches_expect(serve: Serve) -> None:
    result = await run_probe(port=serve("line"), expect=r"^HELLO site-status$")
    assert result.status is Status.OK, result.summary
    assert result.details["matched"] == "HELLO site-status"


async def test_send_and_expect_a_reply(serve: Serve) -> None:
    result = await run_probe(port=serve("line"), send="PING", expect=r"^ECHO PING$")
    assert result.status is Status.OK, result.summary
    assert result.details["matched"] == "ECHO PING"


async def test_reply_that_does_not_match_is_critical_at_the_deadline(serve: Serve) -> None:
    # 2 s: the greeting and the echo come in time on a loaded machine too, never /^PONG/.
    started = time.monotonic()
    port = serve("line")
    result = await run_probe(budget=2.0, port=port, send="PING", expect="^PONG")
    assert time.monotonic() - started < 2.0 + LOADED
    assert result.status is Status.CRITICAL
    assert result.summary == (
        f"timed out after 2s waiting for /^PONG/ from 127.0.0.1:{port}, "
        "got 'HELLO site-status\\r\\nECHO PING'"
    )
    assert "\n" not in result.summary


async def test_mismatch_excerpt_is_capped(serve: Serve) -> None:
    # 2 s: the echo of the 500 bytes comes in time on a loaded machine too.
    result = await run_probe(budget=2.0, port=serve("line"), send="x" * 500, expect="^PONG")
    assert result.status is Status.CRITICAL
    assert len(result.summary) < 150
    assert "…" in result.summary
    assert len(result.details["received"]) <= tcp.DETAILS_EXCERPT


async def test_silent_server_is_critical_within_the_timeout(serve: Serve) -> None:
    started = time.monotonic()
    port = serve("silent")
    result = await run_probe(budget=0.5, port=port, expect="^220 ")
    assert time.monotonic() - started < 0.5 + LOADED
    assert result.status is Status.CRITICAL
    assert result.summary == f"timed out after 0.5s waiting for /^220 / from 127.0.0.1:{port}"


async def test_connect_time_limit(serve: Serve) -> None:
    port = serve("silent")
    result = await run_probe(port=port, connect_time={"warning": "0s", "critical": "10s"})
    assert result.status is Status.WARNING
    assert result.summary.endswith("(max 0s)")


# --- TLS ----------------------------------------------------------------------------------------


async def test_tls_with_valid_certificate_is_ok(serve: Serve, ca: trustme.CA, ca_file: str) -> None:
    not_after = NOW + datetime.timedelta(days=90)
    port = serve("line", server_context(ca, not_after))
    result = await run_probe(port=port, tls=True, ca_file=ca_file, send="PING", expect="^ECHO")
    assert result.status is Status.OK, result.summary
    assert result.summary.startswith("connected in ")
    assert result.summary.endswith(", certificate expires in 90 days")
    assert result.details["tls"]["server_name"] == "127.0.0.1"
    assert result.details["tls"]["version"].startswith("TLS")
    expiry = sample_values(result)["site_status_tls_cert_expiry_timestamp_seconds"]
    assert abs(expiry - not_after.timestamp()) < 1


async def test_server_name_is_checked_and_sent(serve: Serve, ca: trustme.CA, ca_file: str) -> None:
    port = serve("line", server_context(ca, NOW + datetime.timedelta(days=90)))
    good = await run_probe(port=port, tls=True, ca_file=ca_file, server_name="localhost")
    assert good.status is Status.OK, good.summary
    wrong = await run_probe(port=port, tls=True, ca_file=ca_file, server_name="www.example.org")
    assert wrong.status is Status.CRITICAL
    assert wrong.summary == (
        f"TLS handshake with 127.0.0.1:{port} failed: hostname mismatch, certificate is not "
        "valid for 'www.example.org'"
    )
    assert "site_status_tls_cert_expiry_timestamp_seconds" not in sample_values(wrong)


async def test_unknown_ca_is_critical(serve: Serve, ca: trustme.CA) -> None:
    port = serve("line", server_context(ca, NOW + datetime.timedelta(days=90)))
    result = await run_probe(port=port, tls=True)
    assert result.status is Status.CRITICAL
    assert result.summary == (
        f"TLS handshake with 127.0.0.1:{port} failed: unable to get local issuer certificate"
    )


async def test_certificate_expiring_in_three_days(
    serve: Serve, ca: trustme.CA, ca_file: str
) -> None:
    port = serve("line", server_context(ca, NOW + datetime.timedelta(days=3, minutes=5)))
    default = await run_probe(port=port, tls=True, ca_file=ca_file)
    assert default.status is Status.CRITICAL
    assert default.summary == "certificate expires in 3 days (min 7)"
    relaxed = await run_probe(
        port=port, tls=True, ca_file=ca_file, cert_expiry_days={"warning": 5, "critical": 2}
    )
    assert relaxed.status is Status.WARNING
    assert relaxed.summary == "certificate expires in 3 days (min 5)"
    single = await run_probe(port=port, tls=True, ca_file=ca_file, cert_expiry_days=1)
    assert single.status is Status.OK


async def test_expired_certificate(serve: Serve, ca: trustme.CA, ca_file: str) -> None:
    not_after = NOW - datetime.timedelta(days=2)
    context = server_context(ca, not_after, not_before=NOW - datetime.timedelta(days=30))
    port = serve("line", context)
    verified = await run_probe(port=port, tls=True, ca_file=ca_file)
    assert verified.status is Status.CRITICAL
    expired = f"TLS handshake with 127.0.0.1:{port} failed: certificate has expired"
    assert verified.summary == expired
    # Without verification the expiry is still read (from the DER certificate) and graded.
    unverified = await run_probe(port=port, tls=True, verify=False)
    assert unverified.status is Status.CRITICAL
    assert unverified.summary == "certificate expired 2 days ago (min 7)"
    expiry = sample_values(unverified)["site_status_tls_cert_expiry_timestamp_seconds"]
    assert abs(expiry - not_after.timestamp()) < 1


async def test_unverified_tls_reads_expiry_of_unknown_ca(serve: Serve, ca: trustme.CA) -> None:
    port = serve("line", server_context(ca, NOW + datetime.timedelta(days=30)))
    result = await run_probe(port=port, tls=True, verify=False, expect="^HELLO")
    assert result.status is Status.OK, result.summary
    assert result.summary.endswith("certificate expires in 30 days")


async def test_tls_to_a_plain_server_is_critical(serve: Serve) -> None:
    port = serve("line")
    result = await run_probe(port=port, tls=True)
    assert result.status is Status.CRITICAL
    handshake = f"TLS handshake with 127.0.0.1:{port} failed: "
    assert result.summary.startswith(handshake), result.summary


async def test_tls_to_a_silent_server_times_out(serve: Serve) -> None:
    started = time.monotonic()
    port = serve("silent")
    result = await run_probe(budget=0.5, port=port, tls=True)
    assert time.monotonic() - started < 0.5 + LOADED
    assert result.status is Status.CRITICAL
    assert result.summary == f"timed out after 0.5s in the TLS handshake with 127.0.0.1:{port}"


def test_der_not_after_matches_the_decoded_form(ca: trustme.CA) -> None:
    not_after = datetime.datetime(2051, 6, 1, 12, 30, tzinfo=datetime.UTC)
    leaf = ca.issue_cert("localhost", not_after=not_after)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    assert tls.der_not_after(der) == not_after.timestamp()


# --- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"port": 0}, "greater than or equal to 1"),
        ({"port": 65536}, "less than or equal to 65535"),
        ({"port": 80, "expect": "(unclosed"}, "invalid regular expression"),
        ({"port": 80, "server_name": "x"}, "server_name apply only with tls: true"),
        ({"port": 80, "verify": False}, "verify apply only with tls: true"),
        ({"port": 80, "host": "bad..name"}, "invalid host name"),
        ({"port": 80, "tls": True, "cert_expiry_days": {"warn": 3}}, "Extra inputs"),
    ],
)
def test_invalid_config(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        tcp.TcpProbe.model_validate({"name": "t", "kind": "tcp", "host": "h", **fields})


def test_expiry_limits_are_lower_limits_in_days() -> None:
    limits = tls.default_expiry_limits()
    assert limits.grade(30) is Status.OK
    assert limits.grade(10) is Status.WARNING
    assert limits.grade(3) is Status.CRITICAL
    assert limits.describe(Status.CRITICAL) == "min 7"


def test_kind_declares_its_name_and_series() -> None:
    assert tcp.KIND.name == "tcp"
    assert [f.name for f in tcp.KIND.metrics] == [
        "site_status_tcp_connect_seconds",
        "site_status_tls_cert_expiry_timestamp_seconds",
    ]
