"""The ``tcp`` probe kind: a port accepts connections, optionally speaks TLS and answers a line.

One run is up to four steps, all within the run's deadline: connect (``connect_time``), a TLS
handshake (``tls: true``; the certificate's expiry is graded by ``cert_expiry_days``, also when
``verify: false``), send ``send`` (a newline is added unless it ends with one) and read until a
received line matches ``expect`` (a regular expression, searched in each line; at most 64 KiB
are read). Every failure is a graded result: refused, timed out, unresolvable, TLS verification
failures with their reason, an answer that does not match.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSAttribute, TLSStream
from pydantic import Field, field_validator, model_validator

from exporter.failure_text import (
    Failure,
    connection_closed,
    endpoint,
    network_failure,
    timed_out,
    tls_failed,
)
from exporter.probe_api import (
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Reason,
    Result,
    Sample,
    Status,
)
from exporter.status import worst
from exporter.thresholds import DurationLimits
from exporter.units import format_duration
from exporter.user_regex import CompiledRegex, UserRegex, compile_user_regex
from probes.deadline import own_budget
from probes.tls import (
    CERT_EXPIRY,
    ExpiryDaysLimits,
    cert_not_after,
    default_expiry_limits,
    graded_expiry,
    shared_ssl_context,
)

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from anyio.abc import ByteStream

CONNECT = MetricFamily(
    "site_status_tcp_connect_seconds", "Seconds the TCP connect took (without TLS handshake)."
)

#: At most this much is read while looking for ``expect``.
MAX_READ = 64 * 1024
#: Received text shown in summaries (and details) is cut to this many characters.
SUMMARY_EXCERPT = 60
DETAILS_EXCERPT = 500


class TcpProbe(ProbeConfig):
    """A TCP port, optionally with TLS, a line to send and a line to expect."""

    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    server_name: str | None = Field(default=None, min_length=1)
    verify: bool = True
    ca_file: str | None = Field(default=None, min_length=1)
    send: str | None = None
    expect: UserRegex | None = None
    cert_expiry_days: ExpiryDaysLimits = Field(default_factory=default_expiry_limits)
    connect_time: DurationLimits | None = None

    @field_validator("host")
    @classmethod
    def _host_is_a_name_or_address(cls, host: str) -> str:
        try:
            encoded = host.encode("idna")
        except UnicodeError:
            raise ValueError(f"invalid host name {host!r}") from None
        if len(encoded) > 253 or any(c.isspace() for c in host):
            raise ValueError(f"invalid host name {host!r}")
        return host

    @model_validator(mode="after")
    def _tls_options_need_tls(self) -> TcpProbe:
        given = [name for name in ("server_name", "ca_file") if getattr(self, name) is not None]
        if not self.verify:
            given.append("verify")
        if given and not self.tls:
            raise ValueError(f"{', '.join(given)} apply only with tls: true")
        return self


@dataclass
class TcpExchange:
    """What was read while waiting for ``expect``, and how the reading ended."""

    received: bytes
    matched: str | None
    ended: Literal["match", "eof", "limit", "timeout", "error"]


@dataclass
class Connection:
    """What one run learned: details, samples and a graded part per step."""

    config: TcpProbe
    details: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    parts: list[tuple[Status, str]] = field(default_factory=list)
    #: The bounded reason of each part (exporter/reasons.py), in the same order.
    whys: list[Reason] = field(default_factory=list)

    def add(self, status: Status, text: str, why: Reason) -> None:
        self.parts.append((status, text))
        self.whys.append(why)

    def result(self) -> Result:
        status = worst(s for s, _ in self.parts)
        # The first part at the worst status says why.
        why = next(w for (s, _), w in zip(self.parts, self.whys, strict=True) if s is status)
        samples = tuple(self.samples)
        return Result(status, summary(self.parts), self.details, samples, reason=why)


async def run(config: TcpProbe, context: ProbeContext) -> Result:
    deadline = anyio.current_time() + own_budget(context)
    connection = Connection(config, {"host": config.host, "port": config.port})
    target = endpoint(config.host, config.port)
    started = anyio.current_time()
    try:
        with until(deadline):
            stream: ByteStream = await anyio.connect_tcp(config.host, config.port)
    except TimeoutError:
        return failed(connection, timed_out(context.timeout, "connecting to", target))
    except OSError as error:
        return failed(connection, network_failure(config.host, config.port, error))
    try:
        connected(connection, stream, anyio.current_time() - started)
        if config.tls:
            tls_stream = await handshake(connection, stream, context, deadline)
            if tls_stream is None:
                return connection.result()
            stream = tls_stream
        await converse(connection, stream, deadline, context.timeout)
    finally:
        await anyio.aclose_forcefully(stream)
    return connection.result()


def until(deadline: float) -> AbstractContextManager[anyio.CancelScope]:
    """A scope raising ``TimeoutError`` at ``deadline`` (event loop time)."""
    return anyio.fail_after(max(0.0, deadline - anyio.current_time()))


def failed(connection: Connection, failure: Failure) -> Result:
    connection.add(Status.CRITICAL, failure.text, failure.reason)
    return connection.result()


def connected(connection: Connection, stream: ByteStream, seconds: float) -> None:
    connection.details["connect_seconds"] = round(seconds, 6)
    address = stream.extra(SocketAttribute.remote_address, None)
    if isinstance(address, tuple):
        connection.details["address"] = str(address[0])
    connection.samples.append(Sample(CONNECT.name, seconds))
    text = f"connected in {format_duration(seconds)}"
    limits = connection.config.connect_time
    status = Status.OK if limits is None else limits.grade(seconds)
    if status is not Status.OK and limits is not None:
        text = f"{text} ({limits.describe(status)})"
    connection.add(status, text, Reason.SLOW)


async def handshake(
    connection: Connection, stream: ByteStream, context: ProbeContext, deadline: float
) -> TLSStream | None:
    """The TLS stream, its expiry graded; ``None`` (with a CRITICAL part) when it failed."""
    config = connection.config
    server_name = config.server_name or config.host
    ssl_context = shared_ssl_context(context, config.verify, config.ca_file)
    target = endpoint(config.host, config.port)
    started = anyio.current_time()
    try:
        with until(deadline):
            tls_stream = await TLSStream.wrap(
                stream, hostname=server_name, ssl_context=ssl_context, standard_compatible=False
            )
    except TimeoutError:
        failed(connection, timed_out(context.timeout, "in the TLS handshake with", target))
        return None
    except ssl.SSLError as error:
        failed(connection, tls_failed(target, error))
        return None
    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        failed(connection, tls_failed(target, "connection closed by the server"))
        return None
    connection.details["tls"] = tls_details(tls_stream, server_name, started)
    graded_certificate(connection, tls_stream.extra(TLSAttribute.ssl_object))
    return tls_stream


def tls_details(stream: TLSStream, server_name: str, started: float) -> dict[str, Any]:
    cipher = stream.extra(TLSAttribute.cipher)
    return {
        "server_name": server_name,
        "version": stream.extra(TLSAttribute.tls_version),
        "cipher": cipher[0] if cipher else None,
        "handshake_seconds": round(anyio.current_time() - started, 6),
    }


def graded_certificate(connection: Connection, ssl_object: ssl.SSLObject) -> None:
    not_after = cert_not_after(ssl_object)
    if not_after is None:
        connection.add(Status.UNKNOWN, "no peer certificate", Reason.TLS)
        return
    status, text = graded_expiry(connection.config.cert_expiry_days, not_after)
    connection.details["tls"]["not_after"] = datetime.fromtimestamp(not_after, UTC).isoformat()
    connection.samples.append(Sample(CERT_EXPIRY.name, not_after))
    connection.add(status, text, Reason.CERT_EXPIRY)


async def converse(
    connection: Connection, stream: ByteStream, deadline: float, timeout: float
) -> None:
    """Send ``send`` and wait for a line matching ``expect``, if configured."""
    config = connection.config
    if config.send is not None:
        target = endpoint(config.host, config.port)
        try:
            with until(deadline):
                await stream.send(line_to_send(config.send))
        except TimeoutError:
            failed(connection, timed_out(timeout, "sending to", target))
            return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            failed(connection, connection_closed(target, "while sending"))
            return
    if config.expect is None:
        return
    exchange = await read_until_match(stream, compile_user_regex(config.expect), deadline)
    connection.details["received"] = excerpt(exchange.received, DETAILS_EXCERPT)
    if exchange.matched is not None:
        connection.details["matched"] = exchange.matched
        return
    why = Reason.TIMEOUT if exchange.ended == "timeout" else Reason.BODY
    connection.add(Status.CRITICAL, mismatch(config, exchange, timeout), why)


def line_to_send(text: str) -> bytes:
    return (text if text.endswith("\n") else text + "\n").encode()


async def read_until_match(
    stream: ByteStream, pattern: CompiledRegex, deadline: float
) -> TcpExchange:
    """Read lines until one matches ``pattern``, the peer closes, 64 KiB or the deadline."""
    received = bytearray()
    scanned = 0  # complete lines before this offset have been searched
    ended: Literal["eof", "limit", "timeout", "error"] = "limit"
    try:
        with until(deadline):
            while len(received) < MAX_READ:
                received += await stream.receive(MAX_READ - len(received))
                lines, scanned = complete_lines(received, scanned)
                matched = first_match(pattern, lines)
                if matched is not None:
                    return TcpExchange(bytes(received), matched, "match")
    except TimeoutError:
        ended = "timeout"
    except anyio.EndOfStream:
        ended = "eof"
    except (anyio.BrokenResourceError, OSError):
        ended = "error"
    rest = received[scanned:].decode(errors="replace").rstrip("\r\n")
    matched = first_match(pattern, [rest]) if rest else None
    return TcpExchange(bytes(received), matched, "match" if matched is not None else ended)


def complete_lines(received: bytearray, scanned: int) -> tuple[list[str], int]:
    """The complete lines after ``scanned`` and the offset after the last of them."""
    end = received.rfind(b"\n") + 1
    if end <= scanned:
        return [], scanned
    text = received[scanned:end].decode(errors="replace")
    return [line.rstrip("\r") for line in text.split("\n")[:-1]], end


def first_match(pattern: CompiledRegex, lines: list[str]) -> str | None:
    return next((line for line in lines if pattern.search(line) is not None), None)


def mismatch(config: TcpProbe, exchange: TcpExchange, timeout: float) -> str:
    """``expected /^OK/, got 'ERR busy'``; at the deadline ``timed out after 5s waiting for
    /^OK/ from mail.example:25, got 'ERR busy'``."""
    expect = config.expect
    got = f", got {excerpt(exchange.received, SUMMARY_EXCERPT)!r}" if exchange.received else ""
    if exchange.ended == "timeout":
        target = endpoint(config.host, config.port)
        return timed_out(timeout, f"waiting for /{expect}/ from", target).text + got
    if not exchange.received:
        return f"expected /{expect}/, got nothing (connection closed)"
    if exchange.ended == "limit":
        return f"expected /{expect}/{got} (no match in {MAX_READ // 1024} KiB)"
    return f"expected /{expect}/{got}"


def excerpt(data: bytes, limit: int) -> str:
    """The start of ``data`` as text, cut to ``limit`` characters with ``…``."""
    text = data.decode(errors="replace").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(parts: list[tuple[Status, str]]) -> str:
    """The failing parts, worst first; all parts when everything is OK."""
    failing = [(s, t) for s, t in parts if s is not Status.OK]
    if not failing:
        return ", ".join(text for _, text in parts)
    failing.sort(key=lambda part: -part[0].severity)
    return "; ".join(text for _, text in failing)


KIND = ProbeKind(config=TcpProbe, run=run, metrics=(CONNECT, CERT_EXPIRY))
