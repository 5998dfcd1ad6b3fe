"""A strict Loki push receiver on loopback: ``POST /loki/api/v1/push``, as Loki validates it.

No Loki can run here, so this double checks what Loki checks and answers with Loki's status and
message (grafana/loki v2.9-v3.5: ``pkg/loghttp/push/push.go`` for decoding,
``pkg/distributor/distributor.go`` and ``validator.go`` for validation and the rate limit,
``pkg/validation/validate.go`` for the messages, ``pkg/validation/limits.go`` for the defaults,
``pkg/ingester/instance.go`` for the stream limit):

- ``Content-Encoding``: none, ``gzip`` or ``deflate``; anything else is 400
  ``Content-Encoding "br" not supported`` (Loki also takes ``snappy``, for protobuf).
- ``Content-Type: application/json``; no content type is 400 (``mime: no media type``), any
  other type is read as snappy protobuf, which this double does not speak: 400 as Loki answers
  JSON sent that way (``snappy: corrupt input``).
- The body must be ``{"streams": [...]}`` with values ``[ts, line]`` or ``[ts, line, {k: v}]``,
  the timestamp a string of decimal nanoseconds (400 for the whole request otherwise). No
  streams at all: 204 up to Loki 3.3, 422 from 3.4 (``loki_version``).
- Per stream: at least one label, at most 15, names matching ``[a-zA-Z_][a-zA-Z0-9_]*``, values
  at most 2048 bytes; a label name given twice is taken once, the last value winning (Loki
  decodes the object into a map); structured metadata only if allowed.
- Per entry: not older than a week (negative timestamps are), not more than 10 minutes in the
  future, the line at most 256 KiB, not more than an hour behind the newest entry of its
  stream ("too far behind"). Like Loki, valid entries of a request are stored even when others
  are rejected, and the answer is then 400 with the errors grouped as Loki groups them
  (``util.GroupedErrors``: ``N errors like: <message>; ...``, the bare message if only one).
- Limits per tenant (``X-Scope-OrgID``, ``fake`` without it), Loki's defaults: an ingestion
  rate of 4 MB/s with a burst of 6 MB (lines plus structured metadata; a push over it is 429
  and nothing of it is stored), and 5,000 active streams (a stream is active while it had an
  entry in the last 30 minutes; entries of a new stream beyond it are refused with 429, the
  other streams of the push are stored). ``limits=False`` turns both off (a benchmark of the
  pusher alone).
- An entry identical to a stored one (same stream, timestamp and line) is ignored, as Loki
  does; it is counted in ``duplicates`` so tests can prove nothing was sent twice.

``respond_with(status)`` makes it answer 204, 400, 429 (with ``Retry-After``) or 500 without
storing; ``down()`` closes the port (connections are refused; the port stays reserved) and
``up()`` opens it again.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PUSH_PATH = "/loki/api/v1/push"
STATS_PATH = "/double/stats"
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
MAX_LABEL_NAMES = 15
MAX_LABEL_VALUE_LENGTH = 2048
MAX_LINE_BYTES = 256 * 1024
MAX_AGE_NS = 7 * 86400 * 10**9
FUTURE_GRACE_NS = 10 * 60 * 10**9
#: Unordered writes: entries older than newest - max_chunk_age / 2 (2h / 2) are rejected.
OUT_OF_ORDER_WINDOW_NS = 3600 * 10**9
MISSING_STREAMS = "error at least one valid stream is required for ingestion"
MISSING_LABELS = "error at least one label pair is required per stream"
#: ``limits_config`` defaults: ``ingestion_rate_mb: 4``, ``ingestion_burst_size_mb: 6`` (MB
#: meaning MiB: Loki multiplies by 1 << 20), ``max_global_streams_per_user: 5000``.
INGESTION_RATE_BYTES = 4 * 2**20
INGESTION_BURST_BYTES = 6 * 2**20
MAX_ACTIVE_STREAMS = 5000
#: An ingester flushes a stream's chunk after ``chunk_idle_period`` (30m) without entries.
STREAM_IDLE_SECONDS = 30 * 60
RATE_LIMITED = (
    "Ingestion rate limit exceeded for user {tenant} (limit: {limit} bytes/sec) while "
    "attempting to ingest '{lines}' lines totaling '{size}' bytes, reduce log volume or contact "
    "your Loki administrator to see if the limit can be increased"
)
STREAM_LIMIT = (
    "Maximum active stream limit exceeded when trying to create stream {stream}, reduce the "
    "number of active streams (reduce labels or reduce label values), or contact your Loki "
    "administrator to see if the limit can be increased, user: '{tenant}'"
)


class Malformed(Exception):
    """The request cannot be decoded at all: 400 and nothing stored."""


@dataclass(frozen=True)
class PushedEntry:
    labels: tuple[tuple[str, str], ...]
    timestamp: int
    line: str
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def stream(self) -> dict[str, str]:
        return dict(self.labels)

    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.line)
        return document


@dataclass
class PushRequest:
    """One request as received: when, what it carried and what was answered."""

    at: float
    status: int
    headers: dict[str, str]
    body_bytes: int
    entries: list[PushedEntry] = field(default_factory=list)
    answer: str = ""


@dataclass
class _Forced:
    status: int
    retry_after: str | None
    remaining: int | None
    body: str


class TokenBucket:
    """``golang.org/x/time/rate.Limiter.AllowN``: ``rate`` tokens a second, at most ``burst``
    held; a request for more than ``burst`` is never allowed."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = time.monotonic()

    def allow(self, n: float, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if n > self.tokens:
            return False
        self.tokens -= n
        return True


class LokiDouble:
    def __init__(
        self,
        *,
        allow_structured_metadata: bool = True,
        require_tenant: bool = False,
        expected_authorization: str | None = None,
        max_body_bytes: int = 100 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        loki_version: tuple[int, int] = (3, 5),
        limits: bool = True,
        ingestion_rate_bytes: float = INGESTION_RATE_BYTES,
        ingestion_burst_bytes: float = INGESTION_BURST_BYTES,
        max_active_streams: int = MAX_ACTIVE_STREAMS,
        port: int = 0,
    ) -> None:
        self.loki_version = loki_version
        self.limits = limits
        self.ingestion_rate_bytes = ingestion_rate_bytes
        self.ingestion_burst_bytes = ingestion_burst_bytes
        self.max_active_streams = max_active_streams
        self._buckets: dict[str, TokenBucket] = {}
        #: Per tenant: stream -> when it last had an entry (monotonic).
        self._active: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self.allow_structured_metadata = allow_structured_metadata
        self.require_tenant = require_tenant
        self.expected_authorization = expected_authorization
        self.max_body_bytes = max_body_bytes
        self.ssl_context = ssl_context
        self.lock = threading.Lock()
        #: Stored entries in arrival order (what a query would return, once each).
        self.entries: list[PushedEntry] = []
        self.requests: list[PushRequest] = []
        #: Entries identical to stored ones, received again (Loki ignores them).
        self.duplicates: list[PushedEntry] = []
        self._stored: set[tuple[tuple[tuple[str, str], ...], int, str]] = set()
        self._newest: dict[tuple[tuple[str, str], ...], int] = {}
        self._forced: _Forced | None = None
        self._refused: tuple[str, int, str] | None = None
        self._socket = _reserved_socket(port)
        self.port: int = self._socket.getsockname()[1]
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- control --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def push_url(self) -> str:
        return self.url + PUSH_PATH

    def up(self) -> None:
        if self._server is not None:
            return
        listening = self._socket
        if self.ssl_context is not None:
            listening = self.ssl_context.wrap_socket(listening, server_side=True)
        server = _Server(listening, self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Close the port: connections are refused until ``up``; the port stays reserved."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        self._socket = _reserved_socket(self.port)

    def close(self) -> None:
        self.down()
        self._socket.close()

    def respond_with(
        self,
        status: int,
        *,
        retry_after: str | None = None,
        times: int | None = None,
        body: str = "",
    ) -> None:
        """Answer the next ``times`` requests (all, if None) with ``status``, storing nothing."""
        with self.lock:
            self._forced = _Forced(status, retry_after, times, body or f"forced {status}")

    def refuse_lines(self, text: str | None, status: int = 500, body: str = "") -> None:
        """Answer ``status`` to every push carrying a line that contains ``text`` (None: stop),
        storing nothing of it: a failure of some batches only (a proxy's rule, a stream over
        its own rate limit), while the others go through."""
        with self.lock:
            self._refused = None if text is None else (text, status, body or f"refused {status}")

    def normal(self) -> None:
        with self.lock:
            self._forced = None
            self._refused = None

    # --- reading what arrived --------------------------------------------------------------

    def reports(self) -> list[dict[str, Any]]:
        with self.lock:
            return [entry.report() for entry in self.entries]

    def stored(self) -> list[PushedEntry]:
        with self.lock:
            return list(self.entries)

    def answered(self) -> list[PushRequest]:
        with self.lock:
            return list(self.requests)

    def stats(self) -> dict[str, int]:
        """Counts for a benchmark: entries stored, requests, bytes received (body, headers)."""
        with self.lock:
            return {
                "entries": len(self.entries),
                "duplicates": len(self.duplicates),
                "requests": len(self.requests),
                "accepted_requests": sum(1 for r in self.requests if r.status == 204),
                "rate_limited_requests": sum(1 for r in self.requests if r.status == 429),
                "peak_requests_per_second": max(
                    Counter(int(r.at) for r in self.requests).values(), default=0
                ),
                "body_bytes": sum(r.body_bytes for r in self.requests),
                "header_bytes": sum(_header_bytes(r.headers) for r in self.requests),
                "line_bytes": sum(len(e.line.encode()) for e in self.entries),
            }

    # --- the protocol ----------------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], str]:
        with self.lock:
            request = PushRequest(time.monotonic(), 0, headers, len(body))
            status, extra, answer = self._handle(headers, body, request)
            request.status, request.answer = status, answer
            self.requests.append(request)
            return status, extra, answer

    def _handle(
        self, headers: dict[str, str], body: bytes, request: PushRequest
    ) -> tuple[int, dict[str, str], str]:
        if self.require_tenant and not headers.get("x-scope-orgid"):
            return 401, {}, "no org id\n"
        if (
            self.expected_authorization is not None
            and headers.get("authorization") != self.expected_authorization
        ):
            return 401, {}, "unauthorized\n"
        forced = self._forced
        if forced is not None:
            with contextlib.suppress(Malformed, UnicodeDecodeError, ValueError):
                request.entries = [e for _, es in self._decode(headers, body)[1] for e in es]
            if forced.remaining is not None:
                forced.remaining -= 1
                if forced.remaining <= 0:
                    self._forced = None
            extra = {"Retry-After": forced.retry_after} if forced.retry_after else {}
            return forced.status, extra, forced.body
        try:
            status, streams = self._decode(headers, body)
        except Malformed as error:
            return 400, {}, f"{error}\n"
        if status:
            return status, {}, streams[0][0] if streams else ""
        refused = self._refused
        if refused and any(refused[0] in e.line for _, es in streams for e in es):
            request.entries = [e for _, es in streams for e in es]
            return refused[1], {}, refused[2]
        if not streams:
            if self.loki_version >= (3, 4):
                return 422, {}, MISSING_STREAMS + "\n"
            return 204, {}, ""
        tenant = headers.get("x-scope-orgid") or "fake"
        errors: list[str] = []
        valid: list[tuple[Any, list[PushedEntry]]] = []
        for labels, entries in streams:
            request.entries += entries
            stream_errors, kept = self._validate(labels, entries)
            errors += stream_errors
            if kept:
                valid.append((labels, kept))
        if valid and self.limits:
            size = sum(len(e.line.encode()) + _metadata_bytes(e) for _, es in valid for e in es)
            bucket = self._buckets.setdefault(
                tenant, TokenBucket(self.ingestion_rate_bytes, self.ingestion_burst_bytes)
            )
            if not bucket.allow(size):
                lines = sum(len(es) for _, es in valid)
                message = RATE_LIMITED.format(
                    tenant=tenant, limit=int(self.ingestion_rate_bytes), lines=lines, size=size
                )
                return 429, {}, message + "\n"
        limited = ""
        for labels, entries in valid:
            key = tuple(sorted(labels.items()))
            if not self._admit_stream(tenant, key):
                limited = STREAM_LIMIT.format(stream=_labels_text(labels), tenant=tenant)
                continue
            self._store(key, entries)
        if limited:
            return 429, {}, limited + "\n"
        if errors:
            return 400, {}, grouped_errors(errors) + "\n"
        return 204, {}, ""

    def _admit_stream(self, tenant: str, key: tuple[tuple[str, str], ...]) -> bool:
        """Whether a stream may take entries under the active stream limit (and mark it)."""
        now = time.monotonic()
        active = self._active.setdefault(tenant, {})
        if key not in active and self.limits:
            for idle in [k for k, at in active.items() if now - at > STREAM_IDLE_SECONDS]:
                del active[idle]
            if len(active) >= self.max_active_streams:
                return False
        active[key] = now
        return True

    def active_streams(self, tenant: str = "fake") -> int:
        with self.lock:
            return len(self._active.get(tenant, {}))

    def _decode(
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[Any, list[PushedEntry]]]]:
        """(status, [(labels or error text, entries)]); raises ``Malformed``."""
        # Loki compares the header as sent: "GZIP" or "identity" are not supported either.
        encoding = headers.get("content-encoding", "")
        if encoding == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as error:
                raise Malformed(f"gzip: {error}") from None
        elif encoding == "deflate":
            try:
                body = zlib.decompress(body, -zlib.MAX_WBITS)  # Go's flate: raw DEFLATE
            except zlib.error as error:
                raise Malformed(f"flate: {error}") from None
        elif encoding != "":
            raise Malformed(f'Content-Encoding "{encoding}" not supported')
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if not media:
            raise Malformed("mime: no media type")
        if media != "application/json":
            raise Malformed("snappy: corrupt input")  # read as snappy protobuf, as Loki does
        if len(body) > self.max_body_bytes:
            message = (
                f"request body too large: {len(body)} bytes, limit: {self.max_body_bytes} bytes"
            )
            return 413, [(message, [])]
        try:
            document = json.loads(body)  # a label name given twice: the last value wins
        except (ValueError, UnicodeDecodeError) as error:
            raise Malformed(f"malformed JSON: {error}") from None
        streams = document.get("streams") if isinstance(document, dict) else None
        if not isinstance(streams, list):
            raise Malformed('malformed JSON: "streams" must be a list')
        decoded = []
        for stream in streams:
            if not isinstance(stream, dict) or not isinstance(stream.get("values"), list):
                raise Malformed('malformed JSON: each stream needs "stream" and "values"')
            labels = stream.get("stream", {})
            if not isinstance(labels, dict):
                raise Malformed('malformed JSON: "stream" must be an object')
            entries = [self._entry(labels, value) for value in stream["values"]]
            decoded.append((labels, entries))
        return 0, decoded

    def _entry(self, labels: Any, value: Any) -> PushedEntry:
        if not isinstance(value, list) or len(value) not in (2, 3):
            raise Malformed("malformed JSON: an entry is [timestamp, line] or [ts, line, {}]")
        stamp, line = value[0], value[1]
        if not isinstance(stamp, str):
            raise Malformed(f"malformed JSON: timestamp {stamp!r} must be a string")
        if not re.fullmatch(r"-?[0-9]+", stamp):
            raise Malformed(f'strconv.ParseInt: parsing "{stamp}": invalid syntax')
        if not isinstance(line, str):
            raise Malformed("malformed JSON: the line must be a string")
        metadata: tuple[tuple[str, str], ...] = ()
        if len(value) == 3:
            if not isinstance(value[2], dict) or not all(
                isinstance(v, str) for v in value[2].values()
            ):
                raise Malformed("malformed JSON: structured metadata must map strings to strings")
            metadata = tuple(sorted(value[2].items()))
        pairs = tuple(sorted(labels.items())) if isinstance(labels, dict) else ()
        return PushedEntry(pairs, int(stamp), line, metadata)

    def _validate(
        self, labels: Any, entries: list[PushedEntry]
    ) -> tuple[list[str], list[PushedEntry]]:
        """(errors, valid entries) of one stream: a label error rejects the whole stream."""
        text = _labels_text(labels)
        stream_error = self._stream_error(labels, text)
        if stream_error:
            return [stream_error], []
        key = tuple(sorted(labels.items()))
        now = time.time_ns()
        errors = []
        valid = []
        for entry in entries:
            error = self._entry_error(entry, text, now, key)
            if error is None and entry.metadata and not self.allow_structured_metadata:
                error = (
                    f"stream '{text}' includes structured metadata, but this feature is "
                    "disallowed. Please see `limits_config.allow_structured_metadata` or contact "
                    "your Loki administrator to enable it."
                )
            if error:
                errors.append(error)
            else:
                valid.append(entry)
        return errors, valid

    def _store(self, key: tuple[tuple[str, str], ...], entries: list[PushedEntry]) -> None:
        for entry in entries:
            identity = (key, entry.timestamp, entry.line)
            if identity in self._stored:
                self.duplicates.append(entry)
                continue
            self._stored.add(identity)
            self.entries.append(entry)
            self._newest[key] = max(self._newest.get(key, entry.timestamp), entry.timestamp)

    def _stream_error(self, labels: Any, text: str) -> str | None:
        if not labels:
            return MISSING_LABELS
        if len(labels) > MAX_LABEL_NAMES:
            return (
                f"entry for stream '{text}' has {len(labels)} label names; limit {MAX_LABEL_NAMES}"
            )
        for name, value in labels.items():
            if not LABEL_NAME.fullmatch(name) or not isinstance(value, str):
                return f"Error parsing labels '{text}' with error: invalid label name {name!r}"
            if len(value.encode()) > MAX_LABEL_VALUE_LENGTH:
                return f"stream '{text}' has label value too long: '{value}'"
        return None

    def _entry_error(
        self, entry: PushedEntry, text: str, now: int, key: tuple[tuple[str, str], ...]
    ) -> str | None:
        if entry.timestamp < now - MAX_AGE_NS:
            return (
                f"entry for stream '{text}' has timestamp too old: {_time(entry.timestamp)}, "
                f"oldest acceptable timestamp is: {_time(now - MAX_AGE_NS)}"
            )
        if entry.timestamp > now + FUTURE_GRACE_NS:
            return f"entry for stream '{text}' has timestamp too new: {_time(entry.timestamp)}"
        size = len(entry.line.encode())
        if size > MAX_LINE_BYTES:
            return (
                f"Max entry size '{MAX_LINE_BYTES}' bytes exceeded for stream '{text}' while "
                f"adding an entry with length '{size}' bytes"
            )
        newest = self._newest.get(key)
        if newest is not None and entry.timestamp < newest - OUT_OF_ORDER_WINDOW_NS:
            return (
                f"entry with timestamp {_time(entry.timestamp)} ignored, reason: 'entry too far "
                f"behind, entry timestamp is: {_time(entry.timestamp)}, oldest acceptable "
                f"timestamp is: {_time(newest - OUT_OF_ORDER_WINDOW_NS)}',"
            )
        return None


def grouped_errors(errors: list[str]) -> str:
    """Loki's ``util.GroupedErrors.Error()``: the messages grouped, with their counts when
    there is more than one (Go iterates a map: the order of the groups is not fixed)."""
    counts: dict[str, int] = {}
    for error in errors:
        counts[error] = counts.get(error, 0) + 1
    if len(errors) == 1:
        return errors[0]
    return "; ".join(f"{n} errors like: {message}" for message, n in counts.items())


def _metadata_bytes(entry: PushedEntry) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in entry.metadata)


def _labels_text(labels: Any) -> str:
    if not isinstance(labels, dict):
        return "{}"
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _header_bytes(headers: dict[str, str]) -> int:
    """Bytes of a request's head on the wire: request line, headers, blank line."""
    return (
        len(f"POST {PUSH_PATH} HTTP/1.1\r\n")
        + sum(len(k) + len(v) + 4 for k, v in headers.items())
        + 2
    )


def _time(nanoseconds: int) -> str:
    """As Loki formats times in its messages (``time.RFC3339``: whole seconds)."""
    return datetime.fromtimestamp(nanoseconds // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reserved_socket(port: int = 0) -> socket.socket:
    """A bound socket that does not listen: connections to it are refused."""
    reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reserved.bind(("127.0.0.1", port))
    return reserved


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != PUSH_PATH:
            self._answer(404, {}, "404 page not found\n")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, text = self.server.double.handle(headers, body)
        self._answer(status, extra, text)

    def do_GET(self) -> None:
        if self.path == "/ready":
            self._answer(200, {}, "ready\n")
        elif self.path == STATS_PATH:  # not Loki's: for a benchmark running the double apart
            self._answer(200, {}, json.dumps(self.server.double.stats()) + "\n")
        else:
            self._answer(405, {}, "405 method not allowed\n")

    def _answer(self, status: int, extra: dict[str, str], text: str) -> None:
        body = text.encode()
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listening: socket.socket, double: LokiDouble) -> None:
        self.double = double
        super().__init__(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listening
        self.server_address = listening.getsockname()
        self.server_activate()


@contextlib.contextmanager
def loki_double(**options: Any) -> Iterator[LokiDouble]:
    double = LokiDouble(**options)
    double.up()
    try:
        yield double
    finally:
        double.close()


def main() -> None:
    """``python -m tests.support.loki_double [--no-limits] [--port N]``: serve on a free
    loopback port (or N; printed) until standard input closes; a benchmark runs it apart so its
    CPU is not counted as ours. ``--no-limits``: no rate or stream limit (the pusher alone)."""
    import sys

    arguments = sys.argv[1:]
    port = int(arguments[arguments.index("--port") + 1]) if "--port" in arguments else 0
    with loki_double(limits="--no-limits" not in arguments, port=port) as double:
        print(double.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
