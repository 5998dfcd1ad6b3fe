"""A small HTTP/1.1 server for the exporter's few GET endpoints.

Why not ``http.server``: its per-request work (header parsing through the email package, a
write per header line, request logging) costs about 0.3 ms of Python per scrape, more than
rendering ``/metrics`` ahead leaves. This server reads a request head with one ``recv``,
parses it with byte splits, and sends the response head and body in one ``sendmsg``.

It serves GET and HEAD without request bodies, with keep-alive and pipelining. Anything else is
answered with a 4xx status and the connection closed. Each connection has its own daemon thread,
so a slow client or a slow handler never holds up another scrape, and shutdown never waits on one.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: A request head larger than this is refused (431): the endpoints take no large headers.
MAX_HEAD_BYTES = 16 * 1024
#: A kept-alive connection idle this long is closed (longer than Prometheus' longest usual
#: scrape interval, so that a scraper keeps one connection).
IDLE_TIMEOUT = 330.0
#: Once a request started arriving, the rest of its head must arrive within this (slow loris).
HEAD_TIMEOUT = 10.0
#: A client that does not take its response within this is dropped.
SEND_TIMEOUT = 30.0
#: Connections served at once; more are answered 503 and closed.
MAX_CONNECTIONS = 64
#: Distinct requests answered from published bytes; a new one past this replaces the oldest.
MAX_LEARNED = 16

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


@dataclass(frozen=True)
class Request:
    method: str
    #: The path without the query string.
    path: str
    #: Header names in lower case; a repeated header keeps its last value.
    headers: Mapping[str, str]

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
    #: What this body shows, for a handler whose answers its owner publishes ahead
    #: (``HttpServer.publish``): a request answered with it is learned, and answered from the
    #: published bytes from then on. None: always asks the handler.
    representation: Hashable | None = None

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
        return "".join(lines).encode("latin-1")


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class _Prepared:
    """A published answer to one learned request: head and body, sent as they are."""

    head: bytes
    body: bytes
    representation: Hashable


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@functools.lru_cache(maxsize=32)
def parse_head(head: bytes) -> tuple[Request, bool]:
    """The request in ``head`` (up to, not including, the blank line) and whether the client
    wants the connection kept open. Cached: a scraper sends the same bytes every time, and
    after seconds of idling even a few microseconds of parsing run slow on cold caches."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as error:  # pragma: no cover: latin-1 decodes every byte
        raise BadRequest(400, "undecodable request") from error
    request_line, _, header_block = text.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1].startswith(("/", "*")):
        raise BadRequest(400, f"bad request line {request_line[:100]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise BadRequest(505 if version.startswith("HTTP/") else 400, f"version {version[:20]!r}")
    headers: dict[str, str] = {}
    for line in header_block.split("\r\n") if header_block else ():
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, f"bad header line {line[:100]!r}")
        headers[name.lower()] = value.strip()
    if headers.get("transfer-encoding") or headers.get("content-length", "0") != "0":
        raise BadRequest(413, "request bodies are not accepted")
    if method not in ("GET", "HEAD"):
        raise BadRequest(405, f"method {method[:20]!r} not allowed")
    connection = headers.get("connection", "").lower()
    # HTTP/1.1 keeps the connection unless told not to; HTTP/1.0 closes it unless asked to keep it.
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    return Request(method, target.split("?", 1)[0], headers), keep_alive


class _CommonFields:
    """The Server and Date lines, encoded once a second and, where ``prepare`` runs every
    second, before a request needs them."""

    def __init__(self, server: str) -> None:
        self._server = server
        self._lines: dict[int, bytes] = {}

    def _encode(self, second: int) -> bytes:
        # The C locale's day and month names are the ones HTTP wants (RFC 9110, IMF-fixdate).
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(second))
        return f"Server: {self._server}\r\nDate: {date}\r\n".encode("latin-1")

    def prepare(self) -> None:
        """Encode this second's lines and the next one's. A scraper comes every few seconds, so
        without this the encoding ran on nearly every scrape, on cold caches (tens of µs)."""
        second = int(time.time())
        self._lines = {s: self._lines.get(s) or self._encode(s) for s in (second, second + 1)}

    def now(self) -> bytes:
        second = int(time.time())
        lines = self._lines.get(second)
        if lines is None:
            lines = self._encode(second)
            self._lines = {second: lines}  # replaced whole: other threads read it unlocked
        return lines


_STATUS_LINES = {
    status: f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")
    for status, reason in _REASONS.items()
}


def response_head(response: Response, keep_alive: bool, common_fields: bytes) -> bytes:
    status_line = (
        _STATUS_LINES.get(response.status) or f"HTTP/1.1 {response.status} Unknown\r\n".encode()
    )
    closing = b"" if keep_alive else b"Connection: close\r\n"
    return b"".join((status_line, common_fields, response.fields, closing, b"\r\n"))


def kernel_timeout(connection: socket.socket, option: int, seconds: float) -> None:
    """A receive or send timeout kept by the kernel (SO_RCVTIMEO, SO_SNDTIMEO). The socket stays
    blocking for Python, so a recv or send is one system call, not a poll() and the call."""
    whole = int(seconds)
    connection.setsockopt(
        socket.SOL_SOCKET, option, struct.pack("ll", whole, int((seconds - whole) * 1e6))
    )


def send_parts(connection: socket.socket, head: bytes, body: bytes) -> None:
    """Head and body in one system call where the socket takes them (no copy of the body)."""
    sent = connection.sendmsg([head, body]) if body else connection.send(head)
    if sent < len(head):
        connection.sendall(head[sent:])
        sent = len(head)
    if sent - len(head) < len(body):
        connection.sendall(memoryview(body)[sent - len(head) :])


def _receive(connection: socket.socket) -> bytes:
    """What the client sent next; b"" at its end of the connection or when SO_RCVTIMEO ran out."""
    try:
        return connection.recv(65536)
    except (TimeoutError, BlockingIOError):
        return b""


def _error_response(status: int, reason: str) -> Response:
    return Response(status, "text/plain; charset=utf-8", f"{reason}\n".encode())


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
        #: Whole requests (each as one recv brought it) and what they were answered with; the
        #: published answers to them, fresh until ``_prepared_until`` (monotonic); and when each
        #: representation was last answered from them.
        self._learned: dict[bytes, Hashable] = {}
        self._prepared: dict[bytes, _Prepared] = {}
        self._prepared_until = 0.0
        self._served: dict[Hashable, float] = {}
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="site-status http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def publish(self, responses: Mapping[Hashable, Response], fresh_for: float) -> None:
        """The current response for each representation. A request answered before with one of
        them (same bytes, GET, keep-alive) is from now on answered with these bytes, without
        parsing or its handler, for ``fresh_for`` seconds or until the next publish.

        For a caller that ticks every second anyway (the exporter's render-ahead). Why: a
        scrape after seconds of idling runs on cold caches, where the ~100 lines of Python from
        ``recv`` to ``sendmsg`` took 70-85 µs; a published answer takes a dict lookup. Also
        encodes the Date line ahead.
        """
        self._common_fields.prepare()
        common = self._common_fields.now()
        with self._lock:
            learned = list(self._learned.items())
        prepared = {}
        for request, representation in learned:
            response = responses.get(representation)
            if response is not None:
                head = response_head(response, True, common)
                prepared[request] = _Prepared(head, response.body, representation)
        self._prepared = prepared  # replaced whole: connection threads read it unlocked
        self._prepared_until = time.monotonic() + fresh_for

    def served(self) -> dict[Hashable, float]:
        """When each representation was last sent from published bytes (monotonic clock): those
        requests never reach the handler, so its owner learns of them here."""
        return dict(self._served)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop accepting and close every connection; never waits for a handler."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=2)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                if self._closing.is_set():
                    return
                log.exception("accepting a connection failed")
                time.sleep(0.1)
                continue
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            kernel_timeout(connection, socket.SO_RCVTIMEO, IDLE_TIMEOUT)
            kernel_timeout(connection, socket.SO_SNDTIMEO, SEND_TIMEOUT)
            if not self._slots.acquire(blocking=False):
                self._refuse(connection)
                continue
            with self._lock:
                self._connections.add(connection)
            threading.Thread(
                target=self._serve, args=(connection,), name="site-status http conn", daemon=True
            ).start()

    def _refuse(self, connection: socket.socket) -> None:
        response = _error_response(503, "too many connections")
        try:
            connection.settimeout(1.0)
            send_parts(
                connection, response_head(response, False, self._common_fields.now()), response.body
            )
        except OSError:
            pass
        finally:
            connection.close()

    def _serve(self, connection: socket.socket) -> None:
        try:
            self._serve_requests(connection)
        except OSError:
            pass  # the client went away or timed out: nothing to answer
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()
            self._slots.release()

    def _serve_requests(self, connection: socket.socket) -> None:
        buffered = b""
        while not self._closing.is_set():
            if not buffered:
                buffered = _receive(connection)
                if not buffered:
                    return
                if self._answered_from_prepared(connection, buffered):
                    buffered = b""
                    continue
            # One whole request, exactly what a recv brought: a candidate to learn.
            end = buffered.find(b"\r\n\r\n")
            whole = end >= 0 and end == len(buffered) - 4
            received = buffered
            head, buffered = self._read_head(connection, buffered)
            if head is None:
                return
            try:
                request, keep_alive = parse_head(head)
            except BadRequest as error:
                self._send(connection, _error_response(error.status, str(error)), False, False)
                return
            response = self._respond(request)
            representation = response.representation
            if whole and keep_alive and request.method == "GET" and representation is not None:
                self._learn(received, representation)
            self._send(connection, response, request.method == "HEAD", keep_alive)
            if not keep_alive:
                return

    def _answered_from_prepared(self, connection: socket.socket, request: bytes) -> bool:
        prepared = self._prepared.get(request)
        if prepared is None:
            return False
        now = time.monotonic()
        if now >= self._prepared_until:
            return False  # nobody published lately: the handler answers (and renders) itself
        send_parts(connection, prepared.head, prepared.body)
        self._served[prepared.representation] = now
        return True

    def _learn(self, request: bytes, representation: Hashable) -> None:
        with self._lock:
            if request not in self._learned and len(self._learned) >= MAX_LEARNED:
                del self._learned[next(iter(self._learned))]
            self._learned[request] = representation

    def _read_head(self, connection: socket.socket, buffered: bytes) -> tuple[bytes | None, bytes]:
        """The next request head and what followed it; None at a clean end of the connection."""
        partial = False
        while True:
            end = buffered.find(b"\r\n\r\n")
            if 0 <= end <= MAX_HEAD_BYTES:
                if partial:
                    kernel_timeout(connection, socket.SO_RCVTIMEO, IDLE_TIMEOUT)
                return buffered[:end].lstrip(b"\r\n"), buffered[end + 4 :]
            if end > MAX_HEAD_BYTES or len(buffered) > MAX_HEAD_BYTES:
                self._send(connection, _error_response(431, "request head too large"), False, False)
                return None, b""
            if buffered and not partial:  # the rest of a started head must come soon
                kernel_timeout(connection, socket.SO_RCVTIMEO, HEAD_TIMEOUT)
                partial = True
            chunk = _receive(connection)
            if not chunk:
                return None, b""
            buffered += chunk

    def _send(
        self, connection: socket.socket, response: Response, head_only: bool, keep_alive: bool
    ) -> None:
        head = response_head(response, keep_alive, self._common_fields.now())
        send_parts(connection, head, b"" if head_only else response.body)

    def _respond(self, request: Request) -> Response:
        try:
            return self._handler(request)
        except Exception:
            log.exception("error serving %s", request.path)
            return _error_response(500, "internal error")
