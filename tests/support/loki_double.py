"""A strict Loki push receiver on loopback: ``POST /loki/api/v1/push``, as Loki validates it.

No Loki can run here, so this double checks what Loki checks (facts from Loki's distributor
and ingester, default limits) and rejects it with Loki's status and message:

- ``Content-Type: application/json`` only; protobuf (or no content type, which Loki reads as
  protobuf) is answered 415, as this double does not implement it.
- ``Content-Encoding: gzip`` must really be gzip (400); other encodings are 415.
- The body must be ``{"streams": [...]}`` with values ``[ts, line]`` or ``[ts, line, {k: v}]``,
  the timestamp a string of decimal nanoseconds (400 for the whole request otherwise); no
  streams at all is 422.
- Per stream: at least one label, at most 15, names matching ``[a-zA-Z_][a-zA-Z0-9_]*``, no
  duplicate names, values under 2048 characters; structured metadata only if allowed.
- Per entry: not older than a week (negative timestamps are), not more than 10 minutes in the
  future, the line at most 256 KiB, not more than an hour behind the newest entry of its
  stream ("too far behind"). Like Loki, valid entries of a request are stored even when
  others are rejected, and the answer is then 400 listing the rejected ones.
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


class LokiDouble:
    def __init__(
        self,
        *,
        allow_structured_metadata: bool = True,
        require_tenant: bool = False,
        expected_authorization: str | None = None,
        max_body_bytes: int = 100 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
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
        self._socket = _reserved_socket()
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

    def normal(self) -> None:
        with self.lock:
            self._forced = None

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
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            what = media or "no Content-Type (protobuf)"
            return 415, {}, f"unsupported Content-Type {what}: this double speaks JSON only\n"
        try:
            status, streams = self._decode(headers, body)
        except Malformed as error:
            return 400, {}, f"{error}\n"
        if status:
            return status, {}, streams[0][0] if streams else ""
        errors: list[str] = []
        for labels, entries in streams:
            request.entries += entries
            errors += self._ingest(labels, entries)
        if errors:
            return 400, {}, "\n".join(errors) + "\n"
        return 204, {}, ""

    def _decode(
        self, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[Any, list[PushedEntry]]]]:
        """(status, [(labels or error text, entries)]); raises ``Malformed``."""
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as error:
                raise Malformed(f"gzip: {error}") from None
        elif encoding not in ("", "identity"):
            return 415, [(f"Content-Encoding {encoding!r} not supported\n", [])]
        if len(body) > self.max_body_bytes:
            message = (
                f"request body too large: {len(body)} bytes, limit: {self.max_body_bytes} bytes"
            )
            return 413, [(message, [])]
        try:
            document = json.loads(body, object_pairs_hook=_pairs)
        except (ValueError, UnicodeDecodeError) as error:
            raise Malformed(f"malformed JSON: {error}") from None
        streams = document.get("streams") if isinstance(document, dict) else None
        if not isinstance(streams, list):
            raise Malformed('malformed JSON: "streams" must be a list')
        if not streams:
            return 422, [(MISSING_STREAMS, [])]
        decoded = []
        for stream in streams:
            if not isinstance(stream, dict) or not isinstance(stream.get("values"), list):
                raise Malformed('malformed JSON: each stream needs "stream" and "values"')
            labels = stream.get("stream", {})
            if not isinstance(labels, _Labels | dict):
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

    def _ingest(self, labels: Any, entries: list[PushedEntry]) -> list[str]:
        """Store the valid entries of one stream; the error lines of the others."""
        text = _labels_text(labels)
        stream_error = self._stream_error(labels, text)
        if stream_error:
            return [stream_error]
        if not self.allow_structured_metadata and any(e.metadata for e in entries):
            return [
                f"stream '{text}' includes structured metadata, but this feature is disallowed. "
                "Please see `limits_config.allow_structured_metadata` or contact your Loki "
                "administrator to enable it."
            ]
        key = tuple(sorted(labels.items()))
        now = time.time_ns()
        errors = []
        for entry in entries:
            error = self._entry_error(entry, text, now, key)
            if error:
                errors.append(error)
                continue
            identity = (key, entry.timestamp, entry.line)
            if identity in self._stored:
                self.duplicates.append(entry)
                continue
            self._stored.add(identity)
            self.entries.append(entry)
            self._newest[key] = max(self._newest.get(key, entry.timestamp), entry.timestamp)
        return errors

    def _stream_error(self, labels: Any, text: str) -> str | None:
        if isinstance(labels, _Labels) and labels.duplicate:
            return f"stream '{text}' has duplicate label name: '{labels.duplicate}'"
        if not labels:
            return MISSING_LABELS
        if len(labels) > MAX_LABEL_NAMES:
            return (
                f"entry for stream '{text}' has {len(labels)} label names; limit {MAX_LABEL_NAMES}"
            )
        for name, value in labels.items():
            if not LABEL_NAME.fullmatch(name) or not isinstance(value, str):
                return f"Error parsing labels '{text}' with error: invalid label name {name!r}"
            if len(value) > MAX_LABEL_VALUE_LENGTH:
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


class _Labels(dict[str, Any]):
    """A JSON object that remembers a duplicate key (``json`` would keep only the last)."""

    duplicate: str | None = None


def _pairs(pairs: list[tuple[str, Any]]) -> _Labels:
    labels = _Labels()
    for key, value in pairs:
        if key in labels and labels.duplicate is None:
            labels.duplicate = key
        labels[key] = value
    return labels


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
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat()


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
    """``python -m tests.support.loki_double``: serve on a free loopback port (printed) until
    standard input closes; a benchmark runs it apart so its CPU is not counted as ours."""
    import sys

    with loki_double() as double:
        print(double.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
