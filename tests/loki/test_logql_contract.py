"""The LogQL we document and the dashboards use fits what the pusher really sends.

Each expression is parsed with Grafana's LogQL grammar, and checked against reports pushed to
the protocol double: its stream selector uses only our labels and selects something, and every
field it reads after ``| json`` (``{{.probe_name}}``, ``| cause="stale"``) is in those lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from exporter.reports.loki.streams import LABEL_NAMES
from exporter.status import Status
from tests.loki.conftest import SinkFactory, eventually, running, snapshot, transition
from tests.mixin.dashboard_queries import interpolate, queries
from tests.support.loki_double import LokiDouble, PushedEntry
from tests.support.node_tools import logql_syntax_errors
from tests.support.reports import validate_report

DOCS = Path(__file__).resolve().parents[2] / "docs"
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
FIELD = re.compile(r"\{\{\s*\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
#: ``| name="x"`` after a parser: a filter on an extracted field.
FIELD_FILTER = re.compile(r'\|\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
#: ``sum by (site, kind)``: labels a metric query groups by.
GROUPING = re.compile(r"\bby\s*\(([^)]*)\)")
#: ``| json status="status", kind="probe.kind"``: the parser extracts only these, renamed.
JSON_PARAMETERS = re.compile(r'\|\s*json((?:\s+[a-zA-Z_][a-zA-Z0-9_]*\s*=\s*"[^"]*"\s*,?)+)')
PARAMETER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"')


def documented_logql() -> list[str]:
    text = (DOCS / "reports.md").read_text()
    section = text.split("<!-- LogQL examples", 1)[1].split("<!-- end of LogQL examples", 1)[0]
    blocks = re.findall(r"```logql\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def dashboard_logql() -> list[str]:
    values = {"cluster": "", "environment": "prod", "tier": ".*", "profile": ".*", "site": "shop"}
    return [interpolate(q.expr, values) for q in queries() if q.datasource == "loki"]


def flattened(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Fields as Loki's ``| json`` extracts them: nested keys joined by ``_``, arrays left out."""
    fields: dict[str, Any] = {}
    for key, value in document.items():
        name = re.sub(r"[^a-zA-Z0-9_]", "_", prefix + key)
        if isinstance(value, dict):
            fields.update(flattened(value, name + "_"))
        elif not isinstance(value, list):
            fields[name] = value
    return fields


def selects(selector: str, entry: PushedEntry) -> bool:
    labels = entry.stream
    for name, operator, value in MATCHER.findall(selector):
        actual = labels.get(name, "")
        matched = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[operator]
        if not matched:
            return False
    return True


def check(expression: str, entries: list[PushedEntry]) -> None:
    selector = expression[expression.index("{") : expression.index("}") + 1]
    assert {name for name, _, _ in MATCHER.findall(selector)} <= set(LABEL_NAMES), expression
    chosen = [entry for entry in entries if selects(selector, entry)]
    assert chosen, f"selects nothing the pusher sends: {expression}"
    pipeline = expression[expression.index("}") + 1 :]
    extracted = extracted_fields(expression, pipeline, chosen)
    for group in GROUPING.findall(expression):
        for name in (part.strip() for part in group.split(",")):
            assert name in set(LABEL_NAMES) | extracted, f"{expression}: no label {name!r}"
    if "| json" not in pipeline:
        return
    wanted = set(FIELD.findall(pipeline)) | set(
        FIELD_FILTER.findall(pipeline.split("| json", 1)[1])
    )
    wanted -= {"json", "line_format"}
    # A query over both report types may read a field only one of them has (a snapshot has no
    # ``probe_name``): each field must be in some line the query selects.
    available = set(extracted)
    for entry in chosen:
        available |= set(entry.stream)
    missing = wanted - available
    assert not missing, f"{expression}: no field {sorted(missing)} in what it selects"


def extracted_fields(expression: str, pipeline: str, chosen: list[PushedEntry]) -> set[str]:
    """The labels the query's parser adds: with ``| json a="path"`` only those (each path in
    every line selected), with a bare ``| json`` every field of the lines."""
    parameters = JSON_PARAMETERS.search(pipeline)
    if parameters:
        extracted = set()
        for name, path in PARAMETER.findall(parameters.group(1)):
            field = path.replace(".", "_")
            assert all(field in flattened(e.report()) for e in chosen), f"{expression}: {path}"
            extracted.add(name)
        return extracted
    if "| json" in pipeline:
        return {name for entry in chosen for name in flattened(entry.report())}
    return set()


@pytest.fixture
async def pushed(double: LokiDouble, make_sink: SinkFactory) -> list[PushedEntry]:
    """What a site's pusher sends: result, stale and blocked transitions and a snapshot."""
    reports = [
        transition("frontpage", "http", Status.CRITICAL, Status.OK),
        transition("frontpage", "http", Status.OK, Status.CRITICAL),
        transition("nfs", "mount", Status.WARNING, None),
        snapshot(),
    ]
    stale = transition("forecast", "file", Status.OK, None)
    stale.update(status="UNKNOWN", previous_status="OK", cause="stale", summary="stale: 3m old")
    reports.append(stale)
    for report in reports:
        validate_report(report)
    sink = make_sink(double.url)
    async with running(sink):
        await sink.submit(reports)
        await eventually(lambda: len(double.stored()) == len(reports))
    return double.stored()


def test_documented_logql_parses_and_fits_the_reports(pushed: list[PushedEntry]) -> None:
    expressions = documented_logql()
    assert len(expressions) >= 6
    assert logql_syntax_errors(expressions) == {}
    for expression in expressions:
        check(expression, pushed)


def test_dashboard_logql_fits_the_reports(pushed: list[PushedEntry]) -> None:
    expressions = dashboard_logql()
    assert expressions
    for expression in expressions:
        check(expression, pushed)


def test_the_example_in_the_docs_is_a_valid_report() -> None:
    text = (DOCS / "reports.md").read_text()
    examples = re.findall(r"```json\n(.*?)```", text, re.S)
    assert examples
    for example in examples:
        validate_report(json.loads(example))


def test_a_field_the_reports_lack_is_caught(pushed: list[PushedEntry]) -> None:
    with pytest.raises(AssertionError, match="no field"):
        check('{job="site-status"} | json | line_format "{{.probe_colour}}"', pushed)
    with pytest.raises(AssertionError, match="selects nothing"):
        check('{job="site-status", report_type="transitions"}', pushed)
    # Grouping by a label that is neither a stream label nor extracted: one empty series.
    with pytest.raises(AssertionError, match="no label 'status'"):
        check('sum by (status) (count_over_time({job="site-status"} [5m]))', pushed)
    with pytest.raises(AssertionError, match="no label 'kind'"):
        check('sum by (kind) (count_over_time({job="site-status"} | json s="status" [5m]))', pushed)
    with pytest.raises(AssertionError, match="no field"):
        check('{job="site-status"} | json s="status" | status="OK"', pushed)
