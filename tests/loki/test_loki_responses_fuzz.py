"""Property tests of how the pusher takes Loki's answers (issue 13, §7): any status, any
``Retry-After``, any body, any bytes on the wire give a classified ``PushOutcome`` (delivered,
retry with a cause, or drop with a count), never an exception, within a time bound."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.backoff import MAX_RETRY_AFTER, parse_retry_after
from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings
from exporter.reports.loki.client import (
    DROP_STATUSES,
    METADATA_REFUSED,
    REASON_CHARS,
    LokiClient,
    PushOutcome,
    classify,
    rejected_entries,
)
from exporter.reports.stats import RETRY_CAUSES

SECRET = "s3cr3t-t0ken"

http_dates = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
).map(format_datetime)
retry_after_values = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.integers(min_value=0, max_value=10**30).map(str),
    st.integers(min_value=-(10**6), max_value=10**6).map(lambda n: f" {n} "),
    http_dates,
    st.sampled_from(["²", "١٢", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 99 Foo 2015"]),
)
bodies = st.one_of(
    st.text(max_size=2000),
    st.sampled_from(
        [
            "",
            f"stream '{{job=\"x\"}}' {METADATA_REFUSED}. Please see ...",
            "3 errors like: entry for stream '{a=\"b\"}' has timestamp too old; 1 errors like: x",
            "999999999999 errors like: huge",
            SECRET,
        ]
    ),
)


def check_outcome(outcome: PushOutcome, status: int | None) -> None:
    assert outcome.kind in ("ok", "retry", "drop")
    assert SECRET not in outcome.reason
    assert "\n" not in outcome.reason and len(outcome.reason) <= REASON_CHARS + 1
    if outcome.kind == "retry":
        assert outcome.cause in RETRY_CAUSES
        assert outcome.retry_after is None or 0 <= outcome.retry_after <= MAX_RETRY_AFTER
    if outcome.kind == "drop":
        assert outcome.status in DROP_STATUSES and outcome.drop_reason
        assert outcome.rejected is None or outcome.rejected >= 1
    if status is not None and 200 <= status < 300:
        assert outcome.kind == "ok"


@given(st.integers(min_value=100, max_value=999), bodies, retry_after_values)
def test_every_answer_is_classified(status: int, body: str, retry_after: str | None) -> None:
    outcome = classify(status, body, retry_after, [SECRET])
    check_outcome(outcome, status)
    assert (outcome.kind == "drop") == (status in DROP_STATUSES)
    assert outcome.metadata_refused == (status == 400 and METADATA_REFUSED in body)


@given(retry_after_values)
def test_retry_after_is_none_or_bounded(value: str | None) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER


@given(st.integers(min_value=1, max_value=3600))
def test_retry_after_as_a_date_counts_from_now(seconds: int) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    value = format_datetime(now + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(value, now) == min(seconds, MAX_RETRY_AFTER)


messages = st.text(st.characters(blacklist_characters=";"), min_size=1, max_size=80)


@given(st.lists(st.tuples(st.integers(min_value=1, max_value=10**6), messages), min_size=1))
def test_grouped_errors_count_what_loki_rejected(groups: list[tuple[int, str]]) -> None:
    """Loki's ``util.GroupedErrors``: "N errors like: msg; ..." or, for one error, the bare
    message: the count is what Loki rejected."""
    if len(groups) == 1 and groups[0][0] == 1:
        body = groups[0][1]
    else:
        body = "; ".join(f"{n} errors like: {message}" for n, message in groups)
    assert rejected_entries(body) == sum(n for n, _ in groups)


class RawLoki:
    """A TCP server that reads one request and answers it with whatever bytes it is given."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.answer = b""
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection, contextlib.suppress(OSError):
                connection.settimeout(2)
                self._read_request(connection)
                connection.sendall(self.answer)
                connection.shutdown(socket.SHUT_WR)

    @staticmethod
    def _read_request(connection: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return
            rest += chunk

    def close(self) -> None:
        self.stopped = True
        self.listener.close()


@pytest.fixture(scope="module")
def raw_loki() -> Iterator[RawLoki]:
    server = RawLoki()
    yield server
    server.close()


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client sends a token: whatever the server echoes of it is masked."""
    path = tmp_path_factory.mktemp("secrets") / "token"
    path.write_text(SECRET)
    return path


header_names = st.sampled_from(
    ["Retry-After", "Content-Type", "Content-Encoding", "Content-Length", "Transfer-Encoding"]
) | st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
header_values = st.one_of(
    retry_after_values.filter(lambda v: v is not None),
    st.sampled_from(["gzip", "br", "chunked", "text/plain; charset=bogus", "-1", "999999"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
).map(lambda v: str(v).encode("latin-1", "replace"))


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    """An HTTP/1.1 answer: a mostly well-formed head with random headers and body, or any
    bytes at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    status = draw(st.integers(min_value=100, max_value=999))
    reason = draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20))
    body = draw(st.one_of(bodies.map(str.encode), st.binary(max_size=500)))
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    for name, value in draw(st.lists(st.tuples(header_names, header_values), max_size=6)):
        lines.append(name.encode() + b": " + value)
    if draw(st.booleans()):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@settings(max_examples=60, deadline=None)
@given(responses())
def test_any_bytes_from_loki_give_a_classified_outcome(
    raw_loki: RawLoki, token_file: Path, answer: bytes
) -> None:
    raw_loki.answer = answer
    settings_ = LokiSettings.model_validate(
        {
            "url": f"http://127.0.0.1:{raw_loki.port}",
            "timeout": "2s",
            "bearer_token_file": str(token_file),
        }
    )

    async def push() -> PushOutcome:
        client = LokiClient(settings_, BlockingRunner())
        try:
            return await client.push(b"{}")
        finally:
            await client.aclose()

    started = time.monotonic()
    outcome = anyio.run(push)
    assert time.monotonic() - started < 5, "bounded by the push timeout"
    check_outcome(outcome, outcome.status)
