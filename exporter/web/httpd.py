"""A small HTTP/1.1 server for the exporter's few GET endpoints.

Why not ``http.server``: its per-request work (header parsing through the email package, a
write per header line, request logging) costs more Python per scrape than the whole rest of a
scrape (docs/benchmarks.md). This server
reads a request head with one ``recv``, parses it with byte splits, and sends the response head
and body in one ``sendmsg``.

It serves GET and HEAD without request bodies, with keep-alive and pipelining. Anything else is
answered with a 4xx status and the connection closed. Each connection has its own daemon thread,
so a slow client or a slow handler never holds up another scrape, and shutdown never waits on one.

Prometheus always gets its scrape (docs/security.md): a request head and a response each have a
total deadline, not one per byte; and when every slot is taken, a new connection takes the slot
of the connection that has waited longest on its client (idle between requests, trickling a
head, or not taking its response), from the address that holds the most slots. One address holds
at most ``MAX_PER_ADDRESS`` slots, so attackers elsewhere cannot take a scraper's.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import logging
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: A request head larger than this is refused (431): the endpoints take no large headers.
MAX_HEAD_BYTES = 16 * 1024
#: A kept-alive connection idle this long is closed (longer than Prometheus' longest usual
#: scrape interval, so that a scraper keeps one connection). Its slot can be taken before.
IDLE_TIMEOUT = 330.0
#: Once a request head started arriving, all of it must have arrived within this (slow loris).
HEAD_TIMEOUT = 10.0
#: A client must have taken all of a response within this.
SEND_TIMEOUT = 30.0
#: Connections served at once; past this a new one takes the slot of the longest waiting.
MAX_CONNECTIONS = 64
#: Connections served at once from one client address; past this a new one from it takes the
#: slot of that address's longest waiting connection.
MAX_PER_ADDRESS = 16

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
#: RFC 9110 token characters: what a method and a header name are made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")
ALLOWED_METHODS = "GET, HEAD"
#: The kernel's send buffer of a connection (it doubles this): a client that takes nothing
#: holds at most this much of it; autotuning let a non-reader pin megabytes, and copying them
#: in and purging them made each such connection costly in CPU (docs/benchmarks.md).
SEND_BUFFER = 128 * 1024
#: SO_LINGER on, 0 s: close() resets the connection and frees its buffers.
_ABORT = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class Request:
    method: str
    #: The path without the query string.
    path: str
    #: Header names in lower case; a repeated header keeps its last value.
    headers: Mapping[str, str]
    #: What followed ``?`` in the target, undecoded.
    query: str = ""
    version: str = "HTTP/1.1"
    #: Whether the client wants the connection kept open after this request.
    keep_alive: bool = True

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    #: The Content-Encoding ``body`` already has (e.g. gzip), if any.
    encoding: str | None = None
    vary: str | None = None
    #: Further header lines, as (name, value).
    headers: tuple[tuple[str, str], ...] = ()

    @functools.cached_property
    def fields(self) -> bytes:
        """The head's lines that depend on this response alone, encoded once per response
        (a handler that keeps its Response, as /metrics does, pays for them once)."""
        lines = [
            f"Content-Type: {self.content_type}\r\n",
            f"Content-Length: {len(self.body)}\r\n",
        ]
        if self.encoding:
            lines.append(f"Content-Encoding: {self.encoding}\r\n")
        if self.vary:
            lines.append(f"Vary: {self.vary}\r\n")
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        # Every answer, errors that echo a query (``/status?status=<script>``) included: a
        # browser must never sniff a text answer into HTML.
        if not any(name.lower() == "x-content-type-options" for name, _ in self.headers):
            lines.append("X-Content-Type-Options: nosniff\r\n")
        return "".join(lines).encode("latin-1")


Handler = Callable[[Request], Response]


class BadRequest(Exception):
    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.headers = headers


@functools.lru_cache(maxsize=32)
def parse_head(head: bytes) -> Request:
    """The request in ``head`` (up to, not including, the blank line), or BadRequest.
    Cached: a scraper sends the same bytes every time, and after seconds of idling even a few
    microseconds of parsing run slow on cold caches."""
    text = head.decode("latin-1")  # every byte decodes: latin-1 maps all 256
    request_line, _, header_block = text.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1].startswith(("/", "*")):
        raise BadRequest(400, f"bad request line {request_line[:100]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505 if version.startswith("HTTP/") else 400, f"version {version[:20]!r}")
    headers: dict[str, str] = {}
    framing: list[str] = []  # the Content-Length and Transfer-Encoding lines
    for line in header_block.split("\r\n") if header_block else ():
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            raise BadRequest(400, f"bad header line {line[:100]!r}")
        key = name.lower()
        value = value.strip(" \t")
        if key in ("content-length", "transfer-encoding"):
            framing.append(key)
        headers[key] = value
    if framing:
        _check_no_body(framing, headers)
    if method not in ("GET", "HEAD"):
        raise BadRequest(405, f"method {method[:20]!r} not allowed", (("Allow", ALLOWED_METHODS),))
    connection = headers.get("connection", "").lower()
    # HTTP/1.1 keeps the connection unless told not to; HTTP/1.0 closes it unless asked to keep it.
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    path, _, query = target.partition("?")
    return Request(method, path, headers, query, version, keep_alive)


def _check_no_body(framing: list[str], headers: Mapping[str, str]) -> None:
    """A request may say it has no body (``Content-Length: 0``), nothing else. Two framing
    lines, or one with two values, are how request smuggling starts: 400, never a guess."""
    length = headers.get("content-length")
    if len(framing) > 1 or (length is not None and not _DIGITS.match(length)):
        raise BadRequest(400, "duplicate, conflicting or bad Content-Length/Transfer-Encoding")
    if length is None or int(length) != 0:
        raise BadRequest(413, "request bodies are not accepted")


class _CommonFields:
    """The Server and Date lines, encoded once a second."""

    def __init__(self, server: str) -> None:
        self._server = server
        self._lines: tuple[int, bytes] = (-1, b"")

    def now(self) -> bytes:
        second = int(time.time())
        encoded_second, lines = self._lines
        if encoded_second != second:
            # The C locale's day and month names are the ones HTTP wants (RFC 9110, IMF-fixdate).
            date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(second))
            lines = f"Server: {self._server}\r\nDate: {date}\r\n".encode("latin-1")
            self._lines = (second, lines)  # replaced whole: other threads read it unlocked
        return lines


_STATUS_LINES = {
    status: f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")
    for status, reason in _REASONS.items()
}


def response_head(
    response: Response, keep_alive: bool, common_fields: bytes, version: str = "HTTP/1.1"
) -> bytes:
    status_line = (
        _STATUS_LINES.get(response.status) or f"HTTP/1.1 {response.status} Unknown\r\n".encode()
    )
    if not keep_alive:
        connection = b"Connection: close\r\n"
    else:  # HTTP/1.0 closes unless the answer says it stays open
        connection = b"" if version == "HTTP/1.1" else b"Connection: keep-alive\r\n"
    return b"".join((status_line, common_fields, response.fields, connection, b"\r\n"))


def kernel_timeout(connection: socket.socket, option: int, seconds: float) -> None:
    """A receive or send timeout kept by the kernel (SO_RCVTIMEO, SO_SNDTIMEO). The socket stays
    blocking for Python, so a recv or send is one system call, not a poll() and the call."""
    seconds = max(seconds, 0.001)  # zero would mean "no timeout"
    whole = int(seconds)
    connection.setsockopt(
        socket.SOL_SOCKET, option, struct.pack("ll", whole, int((seconds - whole) * 1e6))
    )


def send_within(connection: socket.socket, head: bytes, body: bytes, seconds: float) -> None:
    """Head and body in one system call where the socket takes them (no copy of the body);
    all of it within ``seconds``, or TimeoutError."""
    deadline = time.monotonic() + seconds
    # Blocks at most SO_SNDTIMEO, which is SEND_TIMEOUT outside this function.
    try:
        sent = connection.sendmsg([head, body]) if body else connection.send(head)
    except BlockingIOError as error:
        raise TimeoutError("the client took nothing of its response in time") from error
    if sent == len(head) + len(body):
        return
    rest = memoryview(head + body)[sent:]  # rare: a client slower than the socket's buffer
    try:
        while rest:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the client did not take its response in time")
            kernel_timeout(connection, socket.SO_SNDTIMEO, remaining)
            with contextlib.suppress(BlockingIOError):  # SO_SNDTIMEO ran out: check the deadline
                rest = rest[connection.send(rest) :]
    finally:
        kernel_timeout(connection, socket.SO_SNDTIMEO, SEND_TIMEOUT)


def _receive(connection: socket.socket) -> bytes:
    """What the client sent next; b"" at its end of the connection or when SO_RCVTIMEO ran out."""
    try:
        return connection.recv(65536)
    except (TimeoutError, BlockingIOError):
        return b""


def _error_response(
    status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    return Response(status, "text/plain; charset=utf-8", f"{reason}\n".encode(), headers=headers)


class _Slot:
    """One served connection, as the accept thread sees it when it must free a slot."""

    __slots__ = ("address", "connection", "waiting_since")

    def __init__(self, connection: socket.socket, address: str) -> None:
        self.connection = connection
        self.address = address
        #: Since when (monotonic) it waits on its client: for a request, the rest of a head,
        #: or to take a response. None while its handler runs: such a slot is never taken.
        self.waiting_since: float | None = time.monotonic()


class HttpServer:
    """Serves ``handler`` on ``host:port`` from daemon threads until ``close``."""

    def __init__(self, host: str, port: int, handler: Handler, server_name: str) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
            self._listener.listen(128)
        except OSError:
            self._listener.close()
            raise
        self._handler = handler
        self._common_fields = _CommonFields(server_name)
        self._closing = threading.Event()
        self._slots: dict[int, _Slot] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="site-status http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop accepting and close every connection; never waits for a handler."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            with contextlib.suppress(OSError):
                slot.connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=2)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                connection, address = self._listener.accept()
            except OSError:
                if self._closing.is_set():
                    return
                log.exception("accepting a connection failed")
                time.sleep(0.1)
                continue
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            kernel_timeout(connection, socket.SO_RCVTIMEO, IDLE_TIMEOUT)
            kernel_timeout(connection, socket.SO_SNDTIMEO, SEND_TIMEOUT)
            slot = _Slot(connection, address[0])
            if not self._admit(slot):
                self._refuse(connection)
                continue
            # Not threading.Thread: its start() waits until the new thread has run, a GIL handoff
            # per connection that queued a scraper behind every reconnecting attacker.
            try:
                _thread.start_new_thread(self._serve, (slot,))
            except RuntimeError:  # no thread to be had (memory, limits): this one goes
                log.warning("no thread for a new connection; closed it")
                with self._lock:
                    self._slots.pop(id(slot), None)
                connection.close()

    def _admit(self, slot: _Slot) -> bool:
        """Give ``slot`` a place, taking one from a connection waiting on its client if none is
        free; False if every connection it could displace is running its handler."""
        with self._lock:
            slots = list(self._slots.values())
            same_address = [s for s in slots if s.address == slot.address]
            victim: _Slot | None = None
            if len(same_address) >= MAX_PER_ADDRESS:
                victim = _longest_waiting(same_address)
                if victim is None:
                    return False
            elif len(slots) >= MAX_CONNECTIONS:
                victim = _longest_waiting(slots)
                if victim is None:
                    return False
            if victim is not None:
                del self._slots[id(victim)]
            self._slots[id(slot)] = slot
        if victim is not None:
            # Its thread's recv or send returns at once; the thread closes the socket. A kept-
            # alive connection may be closed while idle (RFC 9112 9.6): clients retry on another.
            with contextlib.suppress(OSError):
                victim.connection.shutdown(socket.SHUT_RDWR)
        return True

    def _refuse(self, connection: socket.socket) -> None:
        response = _error_response(503, "too many connections")
        try:
            connection.settimeout(1.0)
            head = response_head(response, False, self._common_fields.now())
            connection.sendall(head + response.body)
        except OSError:
            pass
        finally:
            connection.close()

    def _serve(self, slot: _Slot) -> None:
        try:
            self._serve_requests(slot)
        except OSError:
            pass  # the client went away, timed out, or lost its slot: nothing to answer
        finally:
            with self._lock:
                if self._slots.get(id(slot)) is slot:
                    del self._slots[id(slot)]
            slot.connection.close()

    def _serve_requests(self, slot: _Slot) -> None:
        connection = slot.connection
        buffered = b""
        while not self._closing.is_set():
            slot.waiting_since = time.monotonic()
            head, buffered = self._read_head(connection, buffered)
            if head is None:
                return
            slot.waiting_since = None
            try:
                request = parse_head(head)
            except BadRequest as error:
                response = _error_response(error.status, str(error), error.headers)
                self._send(slot, response, head_only=False, keep_alive=False)
                return
            response = self._respond(request)
            self._send(
                slot, response, request.method == "HEAD", request.keep_alive, request.version
            )
            if not request.keep_alive:
                return

    def _read_head(self, connection: socket.socket, buffered: bytes) -> tuple[bytes | None, bytes]:
        """The next request head and what followed it; None at a clean end of the connection,
        or when the head did not all arrive within HEAD_TIMEOUT of its first byte."""
        deadline: float | None = None
        while True:
            end = buffered.find(b"\r\n\r\n")
            if 0 <= end <= MAX_HEAD_BYTES:
                if deadline is not None:
                    kernel_timeout(connection, socket.SO_RCVTIMEO, IDLE_TIMEOUT)
                return buffered[:end].lstrip(b"\r\n"), buffered[end + 4 :]
            if end > MAX_HEAD_BYTES or len(buffered) > MAX_HEAD_BYTES:
                response = _error_response(431, "request head too large")
                with contextlib.suppress(OSError):
                    head = response_head(response, False, self._common_fields.now())
                    send_within(connection, head, response.body, SEND_TIMEOUT)
                return None, b""
            if buffered:  # a head started: all of it must come within HEAD_TIMEOUT
                if deadline is None:
                    deadline = time.monotonic() + HEAD_TIMEOUT
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None, b""
                kernel_timeout(connection, socket.SO_RCVTIMEO, remaining)
            chunk = _receive(connection)
            if not chunk:
                return None, b""
            buffered += chunk

    def _send(
        self,
        slot: _Slot,
        response: Response,
        head_only: bool,
        keep_alive: bool,
        version: str = "HTTP/1.1",
    ) -> None:
        head = response_head(response, keep_alive, self._common_fields.now(), version)
        slot.waiting_since = time.monotonic()  # on the client to take it
        try:
            send_within(slot.connection, head, b"" if head_only else response.body, SEND_TIMEOUT)
        except OSError:
            # Reset, not closed: the kernel drops what the client did not take, at once.
            with contextlib.suppress(OSError):
                slot.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            raise

    def _respond(self, request: Request) -> Response:
        try:
            return self._handler(request)
        except Exception:
            log.exception("error serving %s", request.path)
            return _error_response(500, "internal error")


def _longest_waiting(slots: list[_Slot]) -> _Slot | None:
    """The slot to free: of the address holding the most connections, the one that has waited
    longest on its client; never one running its handler (None if all do). One whose next
    request has arrived (a scraper's new connection, about to be answered) only when there is
    no other."""
    held = Counter(s.address for s in slots)
    waiting = sorted(
        (s for s in slots if s.waiting_since is not None),
        key=lambda s: (-held[s.address], s.waiting_since or 0.0),
    )
    idle = (s for s in waiting if not _request_arrived(s.connection))
    return next(idle, waiting[0] if waiting else None)


def _request_arrived(connection: socket.socket) -> bool:
    try:
        return bool(connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:
        return False
