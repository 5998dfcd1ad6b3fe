"""Hypothesis: whatever a source sends, and however slowly within --timeout, the gate ends in
bounded time with exit 0-3 and lines that are one line each, without a control character.

The sources' parsers are fuzzed directly with any JSON (fast, many examples); the whole gate,
in process, against a loopback server answering any bytes with any pacing (fewer examples).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.cli import build_parser
from exporter.gate import command
from exporter.gate.model import SiteState, SourceRejected, SourceUnreachable
from exporter.gate.prometheus import vector_samples
from exporter.gate.sources import exporter_site, prometheus_sites
from tests.support.hostile_http import hostile_server

KEYS = st.sampled_from(
    ["status", "data", "result", "resultType", "metric", "value", "site", "probes", "code",
     "name", "summary", "interval_seconds", "maintenance", "job", "instance", "cluster",
     "probe", "errorType", "error"]
)  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["success", "vector", "OK", "2", "NaN", "1e300", "\x1b[2K\r\n"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def one_visible_line(text: str) -> bool:
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


@settings(max_examples=300, deadline=None, database=None)
@given(document=JSON, code=st.sampled_from([200, 200, 404, 500]))
def test_any_status_document_is_a_site_or_unreachable(document: Any, code: int) -> None:
    try:
        site = exporter_site(document, code, "http://x")
    except SourceUnreachable as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(site, SiteState)
        for probe in site.failing:
            interval = probe.interval_seconds
            assert interval is None or 0 < interval <= 24 * 3600


@settings(max_examples=150, deadline=None, database=None)
@given(data=JSON, other=st.lists(JSON, min_size=3, max_size=3))
def test_any_prometheus_data_is_sites_or_unreachable(data: Any, other: list[Any]) -> None:
    try:
        answers = [vector_samples(d, "http://p") for d in (data, *other)]
    except SourceUnreachable as error:
        assert "\n" not in str(error)
        return
    rollups, maintenance, failing, known = answers
    sites = prometheus_sites(rollups, maintenance, failing, known, "1h")
    assert all(isinstance(site, SiteState) for site in sites)


#: How a server may pace a complete answer: (seconds before the headers, seconds between body
#: chunks); all well within the --timeout of 2 s used below.
PACING = st.tuples(st.sampled_from([0.0, 0.05, 0.2]), st.sampled_from([0.0, 0.01, 0.05]))
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"[" * 100_000, b'{"status": "success", "data": {"resultType": "vector"}}']),
)


class Paced:
    """The answer the server gives to the current example."""

    def __init__(self) -> None:
        self.body = b""
        self.status = "200 OK"
        self.pacing = (0.0, 0.0)

    def __call__(self, connection: socket.socket, stopping: threading.Event) -> None:
        before, between = self.pacing
        time.sleep(before)
        connection.sendall(
            f"HTTP/1.1 {self.status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n".encode()
        )
        for start in range(0, len(self.body), max(1, len(self.body) // 4)):
            connection.sendall(self.body[start : start + max(1, len(self.body) // 4)])
            time.sleep(between)


@pytest.fixture(scope="module")
def paced() -> Any:
    answer = Paced()
    with hostile_server(answer) as server:
        yield answer, server.url


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=BODIES,
    status=st.sampled_from(["200 OK", "400 Bad Request", "503 Service Unavailable"]),
    pacing=PACING,
    mode=st.sampled_from(["--url", "--prometheus"]),
    form=st.sampled_from(["text", "json"]),
)
def test_the_gate_ends_in_bounded_time_with_one_line_per_site(
    paced: Any,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    status: str,
    pacing: tuple[float, float],
    mode: str,
    form: str,
) -> None:
    answer, url = paced
    answer.body, answer.status, answer.pacing = body, status, pacing
    args = build_parser().parse_args(["gate", mode, url, "--timeout", "2s", "--format", form])
    started = time.monotonic()
    try:
        code = command.run(args)
    except SourceRejected:  # pragma: no cover - Gate.run turns it into exit 2
        raise
    out = capsys.readouterr().out
    assert time.monotonic() - started < 2 * 4 + 2  # four queries at most, each under --timeout
    assert code in (0, 1, 2, 3)
    if form == "json":
        assert json.loads(out)["exit_code"] == code
    else:
        first, *rest = out.splitlines()
        assert first.startswith("GATE ")
        assert all(one_visible_line(line) for line in (first, *rest))
    if code == 0:  # never a pass on a source that sent no complete, well-formed answer
        assert status == "200 OK" and body.strip()
