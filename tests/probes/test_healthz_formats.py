"""The formats added for the products operators run (beside the corpus of recorded bodies):
status_map, custom statuses, the codes each product sends, detection and the summary line."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from exporter.status import Status
from probes.http.health import FORMATS, Component, HealthFormat, grade_body

JSON = "application/json"
TEXT = "text/plain"


def dumps(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_every_format_the_config_accepts_has_a_grader() -> None:
    assert set(get_args(HealthFormat)) == set(FORMATS)
    for fmt in FORMATS:
        verdict = grade_body(fmt, 200, TEXT, b"ok", regex="ok")
        assert "unknown healthz format" not in verdict.summary, fmt
        assert verdict.format == fmt or fmt == "auto"


# --- Spring custom statuses and status_map --------------------------------------------------

CUSTOM = {
    "status": "UP",
    "components": {
        "db": {"status": "UP"},
        "legacy": {"status": "FATAL", "details": {"error": "mainframe gone"}},
        "cache": {"status": "GREEN"},
    },
}


def test_an_unknown_component_status_under_a_known_top_level_does_not_make_it_unknown() -> None:
    verdict = grade_body("auto", 200, JSON, dumps(CUSTOM))
    assert (verdict.format, verdict.status) == ("spring", Status.OK)
    assert verdict.summary == (
        "UP: 2 of 3 components unknown: legacy (unknown status 'FATAL'; mainframe gone),"
        " cache (unknown status 'GREEN')"
    )


def test_status_map_grades_custom_statuses_in_any_case() -> None:
    status_map = {"fatal": Status.CRITICAL, "GREEN": Status.OK}
    verdict = grade_body("auto", 200, JSON, dumps(CUSTOM), status_map=status_map)
    # A component the user graded counts, though Spring's own aggregate said UP.
    assert verdict.status is Status.CRITICAL
    assert {c.name: c.status for c in verdict.components} == {
        "db": Status.OK,
        "legacy": Status.CRITICAL,
        "cache": Status.OK,
    }
    assert verdict.summary == "UP but 1 of 3 components failed: legacy (mainframe gone)"
    top = grade_body("auto", 503, JSON, dumps({"status": "FATAL"}), status_map=status_map)
    assert (top.status, top.summary, top.body_decides) == (Status.CRITICAL, "FATAL", True)


def test_an_unknown_top_level_status_leaves_the_grade_to_the_code() -> None:
    ok_code = grade_body("spring", 200, JSON, dumps({"status": "FATAL"}))
    assert ok_code.status is Status.UNKNOWN
    failing = grade_body("spring", 503, JSON, dumps({"status": "FATAL"}))
    assert failing.status is Status.CRITICAL
    assert failing.summary == (
        "HTTP 503, expected 2xx, 3xx; unknown status 'FATAL' (grade it with status_map)"
    )


def test_spring_1x_indicators_beside_the_status_are_components() -> None:
    document = {
        "status": "DOWN",
        "diskSpace": {"status": "UP", "total": 1, "free": 1, "threshold": 1},
        "db": {"status": "DOWN", "error": "org.h2.jdbc.JdbcSQLException: Connection is broken"},
    }
    verdict = grade_body("auto", 503, JSON, dumps(document))
    assert (verdict.format, verdict.status) == ("spring", Status.CRITICAL)
    assert verdict.summary == (
        "DOWN: 1 of 2 components failed: db (org.h2.jdbc.JdbcSQLException: Connection is broken)"
    )


# --- the code each product sends with its status --------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "fmt", "status"),
    [
        pytest.param(b"warning", 429, "consul", Status.WARNING, id="consul-text-429"),
        pytest.param(
            dumps({"AggregatedStatus": "warning", "Service": {"ID": "web1"}, "Checks": []}),
            429,
            "consul",
            Status.WARNING,
            id="consul-json-429",
        ),
        pytest.param(b"Degraded", 200, "aspnet", Status.WARNING, id="aspnet-degraded-200"),
        pytest.param(
            dumps({"db": {"healthy": False, "message": "timeout"}}),
            200,
            "dropwizard",
            Status.CRITICAL,
            id="dropwizard-unhealthy-200",
        ),
        pytest.param(
            dumps({"status": "shutting_down", "info": {}, "error": {}, "details": {}}),
            503,
            "nestjs",
            Status.WARNING,
            id="nestjs-shutting-down",
        ),
        pytest.param(
            dumps({"cluster_name": "logs", "status": "red", "unassigned_shards": 3}),
            200,
            "elasticsearch",
            Status.CRITICAL,
            id="es-red-200",
        ),
    ],
)
def test_the_body_decides_and_the_code_is_expected(
    body: bytes, code: int, fmt: str, status: Status
) -> None:
    content_type = JSON if body.startswith(b"{") else TEXT
    verdict = grade_body("auto", code, content_type, body)
    assert (verdict.format, verdict.status, verdict.body_decides) == (fmt, status, True)
    assert "HTTP" not in verdict.summary


def test_a_healthy_body_with_an_error_code_is_a_contradiction() -> None:
    verdict = grade_body("auto", 503, TEXT, b"Healthy")
    assert (verdict.status, verdict.summary) == (Status.CRITICAL, "Healthy but HTTP 503")


# --- summaries ----------------------------------------------------------------------------


def test_elasticsearch_yellow_names_the_unassigned_shards_and_the_cluster() -> None:
    document = {
        "cluster_name": "logs",
        "status": "yellow",
        "unassigned_shards": 5,
        "initializing_shards": 0,
        "indices": {
            "logs-2024.03": {"status": "yellow", "unassigned_shards": 5},
            "logs-2024.02": {"status": "green", "unassigned_shards": 0},
        },
    }
    verdict = grade_body("auto", 200, JSON, dumps(document))
    assert verdict.status is Status.WARNING
    assert verdict.summary == (
        "yellow: 5 unassigned shards (cluster logs): 1 of 2 indices warning:"
        " logs-2024.03 (5 unassigned shards)"
    )


def test_nestjs_names_each_failing_indicator_once_with_its_message() -> None:
    document = {
        "status": "error",
        "info": {"database": {"status": "up"}},
        "error": {"redis": {"status": "down", "message": "connect ECONNREFUSED 127.0.0.1:6379"}},
        "details": {
            "database": {"status": "up"},
            "redis": {"status": "down", "message": "connect ECONNREFUSED 127.0.0.1:6379"},
        },
    }
    verdict = grade_body("auto", 503, JSON, dumps(document))
    assert verdict.summary == (
        "error: 1 of 2 indicators failed: redis (connect ECONNREFUSED 127.0.0.1:6379)"
    )


def test_healthchecks_ui_entries_worst_first_with_reasons() -> None:
    document = {
        "status": "Unhealthy",
        "totalDuration": "00:00:00.2",
        "entries": {
            "cache": {"status": "Degraded", "description": "slow"},
            "self": {"status": "Healthy"},
            "sqlserver": {"status": "Unhealthy", "exception": "Login failed for user 'app'."},
        },
    }
    verdict = grade_body("auto", 503, JSON, dumps(document))
    assert verdict.summary == (
        "Unhealthy: 2 of 3 checks failed: sqlserver (Login failed for user 'app'.),"
        " cache (warning: slow)"
    )


def test_gitlab_readiness_names_the_failing_checks_by_shard() -> None:
    document = {
        "status": "failed",
        "db_check": [{"status": "ok"}],
        "gitaly_check": [
            {"status": "ok", "labels": {"shard": "default"}},
            {
                "status": "failed",
                "message": "14:connect: connection refused",
                "labels": {"shard": "s2"},
            },
        ],
    }
    verdict = grade_body("auto", 503, JSON, dumps(document))
    assert (verdict.format, verdict.status) == ("gitlab", Status.CRITICAL)
    assert verdict.summary == (
        "failed: 1 of 3 checks failed: gitaly:s2 (14:connect: connection refused)"
    )


def test_a_long_reason_keeps_its_cause() -> None:
    output = (
        "org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC"
        " Connection; nested exception is org.postgresql.util.PSQLException: Connection to"
        " db:5432 refused."
    )
    document = {
        "status": "DOWN",
        "components": {"db": {"status": "DOWN", "details": {"error": output}}},
    }
    verdict = grade_body("spring", 503, JSON, dumps(document))
    assert verdict.summary == "DOWN: db (... Connection to db:5432 refused.)"
    assert verdict.components == (Component("db", Status.CRITICAL, output),)


def test_the_code_is_never_said_twice() -> None:
    for fmt in ("auto", "status-code"):
        verdict = grade_body(fmt, 503, "text/html", b"<html>Service Unavailable</html>")
        assert verdict.summary == "HTTP 503: Service Unavailable"
        assert verdict.summary.count("503") == 1
