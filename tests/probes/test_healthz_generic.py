"""The generic reader: rules on small bodies, and the property that any JSON or text body, any
code, is one graded line that never says OK when the body states a failure at its top level."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.status import Status
from probes.http.health import grade_body, vocabulary

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"

#: Keys a generic document has, and none of an adapter's signature keys (Vault's
#: ``initialized``/``sealed`` pair, Nextcloud's ``installed``, Patroni's ``patroni``).
KEYS = [
    "status", "state", "health", "healthy", "ok", "ready", "checks", "details", "components",
    "services", "errors", "failures", "message", "reason", "error", "name", "data", "version",
    "database", "redis", "db", "uptime", "maintenance", "degraded",
]  # fmt: skip
ALL_WORDS = [*sorted(vocabulary.WORDS), "FATAL", "green-ish", "", "Up", "n/a"]


def respelled(word: str) -> st.SearchStrategy[str]:
    """``word`` in any case, its spaces written as spaces, underscores or hyphens."""
    separators = st.sampled_from([" ", "_", "-", "  "])
    return st.tuples(separators, st.sampled_from([str.lower, str.upper, str.title])).map(
        lambda pair: pair[1](word.replace(" ", pair[0]))
    )


failure_words = st.sampled_from(sorted(vocabulary.FAILURE_WORDS)).flatmap(respelled)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False)
    | st.sampled_from(ALL_WORDS)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)
codes = st.sampled_from([200, 204, 301, 404, 429, 500, 503]) | st.integers(100, 599)


def one_graded_line(body: bytes, code: int, content_type: str, fmt: str = "auto") -> Any:
    verdict = grade_body(fmt, code, content_type, body)
    assert isinstance(verdict.status, Status)
    assert verdict.summary and "\n" not in verdict.summary and len(verdict.summary) <= 300
    return verdict


@given(documents | json_values, codes, st.sampled_from([JSON, TEXT, ""]))
def test_any_json_body_any_code_is_one_graded_line(document: Any, code: int, ctype: str) -> None:
    for fmt in ("auto", "generic"):
        one_graded_line(json.dumps(document).encode(), code, ctype, fmt)


@given(
    documents,
    st.sampled_from(["status", "state", "health"]),
    failure_words,
    codes,
    st.sampled_from([JSON, TEXT]),
)
def test_a_failure_word_as_the_documents_state_is_never_ok(
    document: dict[str, Any], key: str, word: str, code: int, ctype: str
) -> None:
    document = {key: word, **{k: v for k, v in document.items() if k not in ("status", "state")}}
    if key == "health":
        document.pop("health", None)
        document = {"health": word, **document}
    body = json.dumps(document).encode()
    for fmt in ("auto", "generic"):
        assert one_graded_line(body, code, ctype, fmt).status is not Status.OK, document


@given(documents, st.sampled_from(sorted(vocabulary.FAILURE_FLAGS)), codes)
def test_a_failure_flag_set_at_the_top_is_never_ok(
    document: dict[str, Any], flag: str, code: int
) -> None:
    document = {**document, flag: True}
    for fmt in ("auto", "generic"):
        verdict = one_graded_line(json.dumps(document).encode(), code, JSON, fmt)
        assert verdict.status is not Status.OK, document


@given(st.text(max_size=300), codes, st.sampled_from([TEXT, "text/html", ""]))
def test_any_text_body_any_code_is_one_graded_line(text: str, code: int, ctype: str) -> None:
    verdict = one_graded_line(text.encode(), code, ctype)
    if not 200 <= code < 400:
        assert verdict.status is not Status.OK


@given(failure_words, codes)
def test_a_text_body_that_is_a_failure_word_is_never_ok(word: str, code: int) -> None:
    assert one_graded_line(word.encode(), code, TEXT).status is not Status.OK


# --- rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "status", "summary"),
    [
        ({"status": "Partially Available", "failures": {"q": "gone"}}, 200, "WARNING",
         "Partially Available: q (gone)"),
        ({"status": "failed", "reason": "nodedown"}, 200, "CRITICAL", "failed (nodedown)"),
        ({"healthy": False}, 200, "CRITICAL", "healthy false"),
        ({"sealed": True}, 200, "CRITICAL", "sealed"),
        ({"maintenance": True, "message": "upgrading"}, 503, "CRITICAL",
         "maintenance (upgrading)"),
        ({"database": {"reachable": False}, "server": {"connections_active": 1}}, 200,
         "CRITICAL", "database (reachable false)"),
        ({"db": {"status": "down", "error": {"message": "refused"}}}, 200, "CRITICAL",
         "db (refused)"),
        ({"checks": [{"name": "a", "status": "ok"}, {"name": "b", "state": "warn"}]}, 200,
         "WARNING", "1 of 2 components warning: b (warn)"),
        ({"status": "healthy", "redis": "error"}, 200, "CRITICAL",
         "healthy but redis (error)"),
        ({"status": "healthy"}, 503, "CRITICAL", "healthy but HTTP 503"),
        ({"status": "sideways"}, 200, "UNKNOWN", "unknown status 'sideways'"),
        ({"version": "1.2", "name": "x"}, 200, "OK", "HTTP 200"),
        ({"cluster": {"status": "disabled"}, "db": {"status": "up"}}, 200, "OK", "1 component ok"),
        ({"version": "1.2", "error": "db gone"}, 500, "CRITICAL", "HTTP 500: db gone"),
    ],
)  # fmt: skip
def test_generic_rules(body: Any, code: int, status: str, summary: str) -> None:
    verdict = one_graded_line(json.dumps(body).encode(), code, JSON)
    assert verdict.status is Status[status], verdict.summary
    assert summary in verdict.summary


def test_status_map_grades_a_word_nobody_knows() -> None:
    body = json.dumps({"status": "sideways"}).encode()
    verdict = grade_body("auto", 200, JSON, body, status_map={"Sideways": Status.WARNING})
    assert verdict.status is Status.WARNING
    component = json.dumps({"db": {"status": "sideways"}}).encode()
    assert grade_body("auto", 200, JSON, component).status is Status.UNKNOWN
    mapped = grade_body("auto", 200, JSON, component, status_map={"sideways": Status.CRITICAL})
    assert (mapped.status, mapped.format) == (Status.CRITICAL, "generic")


def test_a_text_page_quotes_its_first_failure_line_only_for_an_unexpected_code() -> None:
    page = b"<html><head><title>Maintenance</title></head><body><p>Back soon.</p></body></html>"
    assert grade_body("auto", 503, "text/html", page).summary == "HTTP 503: Maintenance"
    assert grade_body("auto", 200, "text/html", page).status is Status.OK
    prose = b"Welcome\nAll systems go.\nerror rate: 0%\n"
    assert grade_body("auto", 502, TEXT, prose).summary == "HTTP 502: error rate: 0%"
    assert grade_body("auto", 200, TEXT, prose).status is Status.OK


def test_an_nginx_error_page_is_quoted_with_the_code_said_once() -> None:
    page = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )
    verdict = grade_body("auto", 502, "text/html", page)
    assert (verdict.status, verdict.summary) == (Status.CRITICAL, "HTTP 502: Bad Gateway")


def test_a_state_object_under_a_state_key_is_read_as_components() -> None:
    body = json.dumps({"status": {"database": "ok", "cache": "down"}}).encode()
    verdict = grade_body("auto", 200, JSON, body)
    assert verdict.status is Status.CRITICAL
    assert "status.cache (down)" in verdict.summary
