"""Property tests: whatever body, content type and code an endpoint sends, every format's parser
gives a graded verdict with a one-line, capped summary, never an exception, in bounded time."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from exporter.status import Status
from probes.http.health import FORMATS, Component, Verdict, grade_body

WORDS = [
    "UP", "DOWN", "OUT_OF_SERVICE", "UNKNOWN", "FATAL", "pass", "warn", "fail", "ok", "error",
    "shutting_down", "up", "down", "Healthy", "Degraded", "Unhealthy", "green", "yellow", "red",
    "passing", "warning", "critical", "failed", "", "\u00e9tat",
]  # fmt: skip
KEYS = [
    "status", "components", "details", "checks", "entries", "info", "error", "data", "name",
    "healthy", "message", "description", "exception", "output", "observedValue", "cluster_name",
    "unassigned_shards", "indices", "AggregatedStatus", "Checks", "Service", "CheckID", "Status",
    "Output", "Node", "db_check", "labels", "shard", "outcome", "state", "timed_out",
]  # fmt: skip
CONTENT_TYPES = [
    "application/json", "application/health+json", "application/json; charset=utf-8",
    "application/vnd.spring-boot.actuator.v3+json", "text/plain", "text/html", "", "x/y; ;",
]  # fmt: skip
TEXT_LINES = [
    "[+]ping ok", "[-]etcd failed: reason withheld", "[+]etcd excluded: ok", "readyz check failed",
    "ok", "Healthy", "Degraded", "Unhealthy", "passing", "warning", "critical", "GitLab OK",
    "success", "health_check failed: db", "iamalive", "\x00\xff", "<html>",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)
health_objects = st.recursive(
    st.fixed_dictionaries({"status": st.sampled_from(WORDS)}, optional={"error": scalars}),
    lambda children: st.fixed_dictionaries(
        {"status": st.sampled_from(WORDS) | scalars},
        optional={
            "components": st.dictionaries(st.text(max_size=8), children, max_size=4),
            "details": st.dictionaries(st.text(max_size=8), children | scalars, max_size=4),
        },
    ),
    max_leaves=20,
)


def shaped(key: str, entry: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A document of one format's shape: a status word and ``key`` holding entries."""
    return st.fixed_dictionaries(
        {"status": st.sampled_from(WORDS) | scalars, key: entry},
        optional={"cluster_name": st.text(max_size=8), "unassigned_shards": scalars},
    )


check_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)
documents = st.one_of(
    json_values,
    health_objects,
    shaped("checks", st.lists(check_objects, max_size=4)),  # MicroProfile
    shaped("checks", st.dictionaries(st.text(max_size=8), st.lists(check_objects, max_size=3))),
    shaped("entries", st.dictionaries(st.text(max_size=8), check_objects, max_size=4)),
    shaped("info", st.dictionaries(st.text(max_size=8), check_objects, max_size=4)),
    shaped("indices", st.dictionaries(st.text(max_size=8), check_objects, max_size=4)),
    shaped("db_check", st.lists(check_objects, max_size=3)),
    st.dictionaries(
        st.text(max_size=8),
        st.fixed_dictionaries({"healthy": st.booleans()}, optional={"message": scalars}),
        min_size=1,
        max_size=4,
    ),  # Dropwizard
    st.lists(
        st.fixed_dictionaries(
            {"CheckID": scalars, "Status": st.sampled_from(WORDS) | scalars},
            optional={"Node": scalars, "Output": scalars, "AggregatedStatus": scalars},
        ),
        max_size=4,
    ),  # Consul
)


def serialised(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


bodies = st.one_of(
    documents.map(serialised),
    st.lists(st.sampled_from(TEXT_LINES), max_size=8).map(lambda lines: "\n".join(lines).encode()),
    st.binary(max_size=200),
    documents.map(serialised).map(lambda body: body[: len(body) // 2]),  # cut short
)


def assert_graded(verdict: Verdict, started: float) -> None:
    """``started``: ``time.thread_time()`` (CPU seconds, which a loaded machine does not add)."""
    assert time.thread_time() - started < 1.0
    assert isinstance(verdict.status, Status)
    assert isinstance(verdict.summary, str)
    assert "\n" not in verdict.summary and "\r" not in verdict.summary
    assert len(verdict.summary) <= 300
    assert verdict.format in FORMATS
    assert all(isinstance(component, Component) for component in verdict.components)
    assert all(len(component.output) <= 300 for component in verdict.components)
    assert verdict.omitted >= 0


@given(
    fmt=st.sampled_from(FORMATS),
    code=st.integers(min_value=100, max_value=599),
    content_type=st.sampled_from(CONTENT_TYPES),
    body=bodies,
    truncated=st.booleans(),
)
def test_every_format_grades_any_answer(
    fmt: str, code: int, content_type: str, body: bytes, truncated: bool
) -> None:
    started = time.thread_time()
    verdict = grade_body(
        fmt,
        code,
        content_type,
        body,
        regex="UP|ok",
        truncated=truncated,
        status_map={"fatal": Status.CRITICAL, "GREEN": Status.OK},
    )
    assert_graded(verdict, started)


@given(
    document=documents,
    code=st.integers(min_value=100, max_value=599),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_auto_grades_a_document_exactly_as_the_format_it_picked(
    document: Any, code: int, content_type: str
) -> None:
    body = serialised(document)
    started = time.thread_time()
    auto = grade_body("auto", code, content_type, body)
    assert_graded(auto, started)
    if auto.format not in ("auto", "status-code", "health+json") and auto.body_decides:
        assert grade_body(auto.format, code, content_type, body) == auto


@given(code=st.integers(min_value=100, max_value=599), document=documents)
def test_a_body_that_decides_never_depends_on_the_order_of_its_components(
    code: int, document: Any
) -> None:
    verdict = grade_body("auto", code, "application/json", serialised(document))
    if isinstance(document, dict) and verdict.body_decides:
        reordered = dict(reversed(list(document.items())))
        again = grade_body("auto", code, "application/json", serialised(reordered))
        if again.format == verdict.format:
            assert again.status is verdict.status
