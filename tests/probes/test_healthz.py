"""Healthz body grading on fixtures written from each format's documented shape."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from exporter.status import Status
from probes.http.health import (
    FORMATS,
    MAX_COMPONENTS,
    OUTPUT_CAP,
    Component,
    Verdict,
    grade_body,
)

HEALTH_JSON = "application/health+json"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html"
SPRING_V3 = "application/vnd.spring-boot.actuator.v3+json"


def dumps(document: Any) -> bytes:
    return json.dumps(document, indent=2).encode()


def by_name(verdict: Verdict) -> dict[str, Component]:
    return {component.name: component for component in verdict.components}


def statuses(verdict: Verdict) -> dict[str, Status]:
    return {component.name: component.status for component in verdict.components}


# --- fixtures: IETF health+json (draft-inadarei-api-health-check) --------------------------

IETF_WARN = {
    "status": "warn",
    "version": "1",
    "releaseId": "1.2.2",
    "notes": [""],
    "output": "",
    "serviceId": "f03e522f-1f44-4062-9b55-9587f91c9c41",
    "description": "health of authz service",
    "checks": {
        "cassandra:responseTime": [
            {
                "componentId": "dfd6cf2b-1b6e-4412-a0b8-f6f7797a60d2",
                "componentType": "datastore",
                "observedValue": 250,
                "observedUnit": "ms",
                "status": "pass",
                "affectedEndpoints": ["/users/{userId}", "/customers/{customerId}/status"],
                "time": "2018-01-17T03:36:48Z",
                "output": "",
            }
        ],
        "cassandra:connections": [
            {
                "componentId": "dfd6cf2b-1b6e-4412-a0b8-f6f7797a60d2",
                "componentType": "datastore",
                "observedValue": 75,
                "status": "warn",
                "time": "2018-01-17T03:36:48Z",
                "output": "",
                "links": {"self": "http://api.example.com/dbnode/dfd6cf2b/health"},
            }
        ],
        "uptime": [
            {
                "componentType": "system",
                "observedValue": 1209600.245,
                "observedUnit": "s",
                "status": "pass",
                "time": "2018-01-17T03:36:48Z",
            }
        ],
        "cpu:utilization": [
            {
                "componentId": "6fd416e0-8920-410f-9c7b-c479000f7227",
                "node": 1,
                "componentType": "system",
                "observedValue": 85,
                "observedUnit": "percent",
                "status": "warn",
                "time": "2018-01-17T03:36:48Z",
                "output": "",
            },
            {
                "componentId": "6fd416e0-8920-410f-9c7b-c479000f7227",
                "node": 2,
                "componentType": "system",
                "observedValue": 42,
                "observedUnit": "percent",
                "status": "pass",
                "time": "2018-01-17T03:36:48Z",
                "output": "",
            },
        ],
    },
    "links": {"about": "http://api.example.com/about/authz"},
}

IETF_DETAILS = {
    "status": "pass",
    "details": {
        "postgres:connections": {
            "componentType": "datastore",
            "observedValue": 12,
            "status": "pass",
            "time": "2017-05-10T11:41:59Z",
        },
        "redis:responseTime": [
            {"componentType": "datastore", "observedValue": 3, "observedUnit": "ms", "status": "ok"}
        ],
    },
}

IETF_FAIL = {
    "status": "fail",
    "output": "database unreachable",
    "checks": {
        "postgres:responseTime": [
            {
                "componentType": "datastore",
                "status": "fail",
                "output": "dial tcp 10.0.0.5:5432: connect: connection refused",
                "time": "2024-03-01T10:00:00Z",
            }
        ],
        "uptime": [{"componentType": "system", "observedValue": 12, "observedUnit": "s"}],
    },
}

IETF_PASS = {"status": "pass", "checks": {"uptime": [{"status": "pass", "observedValue": 5}]}}


def test_ietf_warn_grades_warning_and_lists_each_check_object() -> None:
    verdict = grade_body("health+json", 200, HEALTH_JSON, dumps(IETF_WARN))
    assert verdict.status is Status.WARNING
    assert verdict.format == "health+json"
    assert statuses(verdict) == {
        "cassandra:responseTime": Status.OK,
        "cassandra:connections": Status.WARNING,
        "uptime": Status.OK,
        "cpu:utilization[0]": Status.WARNING,
        "cpu:utilization[1]": Status.OK,
    }
    assert verdict.summary == (
        "warn: 2 of 5 checks warning: cassandra:connections (observed 75),"
        " cpu:utilization[0] (observed 85 percent)"
    )
    assert by_name(verdict)["cassandra:responseTime"].output == "observed 250 ms"


def test_ietf_older_details_variant_with_single_objects_and_aliases() -> None:
    verdict = grade_body("health+json", 200, HEALTH_JSON, dumps(IETF_DETAILS))
    assert verdict.status is Status.OK
    assert statuses(verdict) == {
        "postgres:connections": Status.OK,
        "redis:responseTime": Status.OK,
    }
    assert verdict.summary == "pass: 2 checks ok"


def test_ietf_fail_with_503_is_critical_with_reasons() -> None:
    verdict = grade_body("health+json", 503, HEALTH_JSON, dumps(IETF_FAIL))
    assert verdict.status is Status.CRITICAL
    assert verdict.summary == (
        "fail (database unreachable): 1 of 2 checks failed: postgres:responseTime"
        " (dial tcp 10.0.0.5:5432: connect: connection refused)"
    )
    failing = by_name(verdict)["postgres:responseTime"]
    assert failing.status is Status.CRITICAL
    assert failing.output == "dial tcp 10.0.0.5:5432: connect: connection refused"
    # A check object without a status is an observation, not a failure.
    assert by_name(verdict)["uptime"] == Component("uptime", Status.OK, "observed 12 s")


def test_ietf_fail_with_200_stays_critical() -> None:
    verdict = grade_body("health+json", 200, HEALTH_JSON, dumps(IETF_FAIL))
    assert verdict.status is Status.CRITICAL
    assert verdict.summary.startswith("fail (database unreachable): 1 of 2 checks failed")


@pytest.mark.parametrize("code", [503, 500, 404])
def test_ietf_pass_with_error_code_is_critical(code: int) -> None:
    verdict = grade_body("health+json", code, HEALTH_JSON, dumps(IETF_PASS))
    assert verdict.status is Status.CRITICAL
    assert verdict.summary == f"pass but HTTP {code}: 1 check ok"


def test_ietf_warn_with_503_is_critical_but_pass_with_304_is_ok() -> None:
    warn = grade_body("health+json", 503, HEALTH_JSON, dumps({"status": "warn"}))
    assert (warn.status, warn.summary) == (Status.CRITICAL, "warn but HTTP 503")
    redirect = grade_body("health+json", 304, HEALTH_JSON, dumps({"status": "PASS"}))
    assert (redirect.status, redirect.summary) == (Status.OK, "pass")


def test_ietf_component_worse_than_document_makes_the_verdict_worse_and_says_so() -> None:
    document = {
        "status": "pass",
        "checks": {
            "db:connections": [{"status": "fail", "output": "pool exhausted"}],
            "cache:hitRatio": [{"status": "warn"}],
            "uptime": [{"status": "pass"}],
        },
    }
    verdict = grade_body("health+json", 200, HEALTH_JSON, dumps(document))
    assert verdict.status is Status.CRITICAL
    assert verdict.summary == (
        "pass but 2 of 3 checks failed: db:connections (pool exhausted), cache:hitRatio (warning)"
    )
    # Each component keeps its own status.
    assert statuses(verdict)["cache:hitRatio"] is Status.WARNING


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("ok", Status.OK),
        ("UP", Status.OK),
        ("Warn", Status.WARNING),
        ("error", Status.CRITICAL),
        ("DOWN", Status.CRITICAL),
    ],
)
def test_ietf_status_aliases_in_any_case(word: str, expected: Status) -> None:
    code = 200 if expected is not Status.CRITICAL else 503
    verdict = grade_body("health+json", code, HEALTH_JSON, dumps({"status": word}))
    assert verdict.status is expected


def test_ietf_unknown_or_missing_status_is_unknown_with_reason() -> None:
    odd = grade_body("health+json", 200, HEALTH_JSON, dumps({"status": "degraded"}))
    assert (odd.status, odd.summary) == (
        Status.UNKNOWN,
        "unknown status 'degraded' (grade it with status_map)",
    )
    assert not odd.body_decides  # the code decides: with 503 it is CRITICAL
    odd_503 = grade_body("health+json", 503, HEALTH_JSON, dumps({"status": "degraded"}))
    assert odd_503.status is Status.CRITICAL
    assert odd_503.summary == (
        "HTTP 503, expected 2xx, 3xx; unknown status 'degraded' (grade it with status_map)"
    )
    mapped = grade_body(
        "health+json",
        200,
        HEALTH_JSON,
        dumps({"status": "degraded"}),
        status_map={"Degraded": Status.WARNING},
    )
    assert (mapped.status, mapped.summary) == (Status.WARNING, "degraded")
    missing = grade_body("health+json", 200, HEALTH_JSON, dumps({"checks": {}}))
    assert (missing.status, missing.summary) == (Status.UNKNOWN, "no status")
    bad_check = grade_body(
        "health+json", 200, HEALTH_JSON, dumps({"status": "pass", "checks": {"db": ["up"]}})
    )
    # A check that cannot be read is named, but does not overrule the document's status.
    assert bad_check.status is Status.OK
    assert bad_check.components == (
        Component("db", Status.UNKNOWN, "not a check object but a string"),
    )
    assert bad_check.summary == "pass: db (not a check object but a string)"


# --- fixtures: Spring Boot actuator --------------------------------------------------------

JDBC_ERROR = (
    "org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection;"
    "\n\tnested exception is java.net.ConnectException: Connection refused"
)

SPRING_NESTED = {
    "status": "DOWN",
    "components": {
        "db": {
            "status": "DOWN",
            "components": {
                "primary": {
                    "status": "UP",
                    "details": {"database": "PostgreSQL", "validationQuery": "isValid()"},
                },
                "replicas": {
                    "status": "DOWN",
                    "components": {
                        "eu": {
                            "status": "DOWN",
                            "details": {"error": JDBC_ERROR},
                        },
                        "us": {"status": "UP", "details": {"database": "PostgreSQL"}},
                    },
                },
            },
        },
        "diskSpace": {
            "status": "UP",
            "details": {
                "total": 250685575168,
                "free": 118915149824,
                "threshold": 10485760,
                "path": "/srv/app/.",
                "exists": True,
            },
        },
        "ping": {"status": "UP"},
        "readinessState": {"status": "OUT_OF_SERVICE"},
    },
    "groups": ["liveness", "readiness"],
}

SPRING_OLD_DETAILS = {
    "status": "DOWN",
    "details": {
        "diskSpace": {
            "status": "DOWN",
            "details": {"total": 499963170816, "free": 1048576, "threshold": 10485760},
        },
        "db": {"status": "UP", "details": {"database": "H2", "hello": 1}},
    },
}


def test_spring_nested_components_flatten_to_dotted_leaves() -> None:
    verdict = grade_body("spring", 503, SPRING_V3, dumps(SPRING_NESTED))
    assert verdict.status is Status.CRITICAL
    assert verdict.format == "spring"
    assert statuses(verdict) == {
        "db.primary": Status.OK,
        "db.replicas.eu": Status.CRITICAL,
        "db.replicas.us": Status.OK,
        "diskSpace": Status.OK,
        "ping": Status.OK,
        "readinessState": Status.WARNING,
    }
    assert verdict.summary == (
        "DOWN: 2 of 6 components failed: db.replicas.eu (... Connection refused),"
        " readinessState (warning)"
    )
    error = by_name(verdict)["db.replicas.eu"].output
    assert error.startswith("org.springframework.jdbc.CannotGetJdbcConnectionException:")
    assert "\n" not in error and "\t" not in error
    assert "nested exception is java.net.ConnectException" in error
    assert by_name(verdict)["diskSpace"].output == ""


def test_spring_out_of_service_with_503_is_warning() -> None:
    document = {
        "status": "OUT_OF_SERVICE",
        "components": {"readinessState": {"status": "OUT_OF_SERVICE"}},
    }
    verdict = grade_body("spring", 503, JSON, dumps(document))
    assert verdict.status is Status.WARNING
    assert verdict.summary == "OUT_OF_SERVICE: readinessState"
    assert verdict.body_decides


def test_spring_up_with_503_is_critical_and_unknown_is_unknown() -> None:
    up = grade_body("spring", 503, JSON, dumps({"status": "UP"}))
    assert (up.status, up.summary) == (Status.CRITICAL, "UP but HTTP 503")
    unknown = grade_body("spring", 200, JSON, dumps({"status": "UNKNOWN"}))
    assert (unknown.status, unknown.summary) == (Status.UNKNOWN, "UNKNOWN")
    custom = grade_body("spring", 200, JSON, dumps({"status": "FATAL"}))
    assert (custom.status, custom.summary) == (
        Status.UNKNOWN,
        "unknown status 'FATAL' (grade it with status_map)",
    )


def test_spring_older_details_variant() -> None:
    verdict = grade_body("spring", 503, JSON, dumps(SPRING_OLD_DETAILS))
    assert verdict.status is Status.CRITICAL
    assert statuses(verdict) == {"diskSpace": Status.CRITICAL, "db": Status.OK}
    # A leaf that is not UP and has no error says what its details say.
    assert by_name(verdict)["diskSpace"].output == (
        "total=499963170816, free=1048576, threshold=10485760"
    )
    # A leaf's own details (database, hello) are not mistaken for sub-components.
    assert by_name(verdict)["db"].output == ""


def test_spring_nesting_deeper_than_the_limit_is_one_component() -> None:
    node: dict[str, Any] = {"status": "DOWN", "details": {"error": "deep"}}
    for _ in range(40):
        node = {"status": "DOWN", "components": {"n": node}}
    verdict = grade_body("spring", 503, JSON, dumps(node))
    assert verdict.status is Status.CRITICAL
    assert len(verdict.components) == 1
    assert verdict.components[0].output == "nested deeper than 16 levels"


# --- fixtures: Kubernetes ------------------------------------------------------------------

K8S_FAILED = b"""[+]ping ok
[+]log ok
[-]etcd failed: reason withheld
[+]poststarthook/start-kube-apiserver-admission-initializer ok
[+]poststarthook/generic-apiserver-start-informers ok
healthz check failed
"""

K8S_PASSED = b"""[+]ping ok
[+]log ok
[+]etcd excluded: ok
[+]informer-sync ok
[+]shutdown ok
readyz check passed
"""


def test_k8s_verbose_failure_names_the_failing_check_and_its_reason() -> None:
    verdict = grade_body("k8s", 500, TEXT, K8S_FAILED)
    assert verdict.status is Status.CRITICAL
    assert verdict.format == "k8s"
    assert verdict.summary == "1 of 5 checks failed: etcd (reason withheld)"
    assert by_name(verdict)["etcd"] == Component("etcd", Status.CRITICAL, "reason withheld")
    assert statuses(verdict)["poststarthook/start-kube-apiserver-admission-initializer"] is (
        Status.OK
    )


def test_k8s_verbose_pass() -> None:
    verdict = grade_body("k8s", 200, TEXT, K8S_PASSED)
    assert verdict.status is Status.OK
    assert verdict.summary == "readyz check passed: 5 checks ok"
    assert len(verdict.components) == 5


def test_k8s_all_lines_ok_but_500_is_critical() -> None:
    verdict = grade_body("k8s", 500, TEXT, K8S_PASSED)
    assert verdict.status is Status.CRITICAL
    assert verdict.summary == "readyz check passed but HTTP 500: 5 checks ok"


def test_k8s_plain_ok() -> None:
    assert grade_body("k8s", 200, TEXT, b"ok") == Verdict(Status.OK, "ok", "k8s", body_decides=True)
    bad = grade_body("k8s", 503, TEXT, b"ok\n")
    assert (bad.status, bad.summary) == (Status.CRITICAL, "ok but HTTP 503")


def test_k8s_5xx_without_check_lines_is_critical_with_the_first_line() -> None:
    verdict = grade_body("k8s", 503, TEXT, b"\nService Unavailable\nretry later\n")
    assert (verdict.status, verdict.summary) == (
        Status.CRITICAL,
        "HTTP 503, expected 2xx, 3xx; not a Kubernetes health answer: 'Service Unavailable'",
    )


def test_k8s_2xx_with_an_unrecognised_body_is_unknown() -> None:
    verdict = grade_body("k8s", 200, TEXT, b"all good, probably")
    assert verdict.status is Status.UNKNOWN
    assert verdict.summary == "not a Kubernetes health answer: 'all good, probably'"


# --- status code and regex -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [(200, Status.OK), (204, Status.OK), (301, Status.OK), (404, Status.CRITICAL)],
)
def test_status_code(code: int, expected: Status) -> None:
    verdict = grade_body("status-code", code, HTML, b"<html/>")
    assert (verdict.status, verdict.format, verdict.body_decides) == (
        expected,
        "status-code",
        False,
    )
    assert verdict.summary == (
        f"HTTP {code}" if expected is Status.OK else f"HTTP {code}, expected 2xx, 3xx"
    )


def test_status_code_503_is_critical() -> None:
    verdict = grade_body("status-code", 503, JSON, b'{"state": "running", "role": "replica"}')
    # Only the code counts; what the body says is quoted (Patroni's /leader on a replica).
    assert (verdict.status, verdict.summary) == (
        Status.CRITICAL,
        "HTTP 503: state: running; role: replica",
    )


IAMALIVE = b"<html><head><title>status</title></head><body><h1>iamalive</h1></body></html>\n"


def test_regex_matching_page_is_ok() -> None:
    verdict = grade_body("regex", 200, HTML, IAMALIVE, regex="iamalive")
    assert verdict == Verdict(Status.OK, "body matches /iamalive/", "regex")


def test_regex_not_matching_is_critical() -> None:
    page = b"<html><body>Down for maintenance</body></html>"
    verdict = grade_body("regex", 200, HTML, page, regex="iamalive")
    assert verdict == Verdict(Status.CRITICAL, "body does not match /iamalive/", "regex")


def test_regex_missing_or_invalid_is_unknown() -> None:
    assert grade_body("regex", 200, HTML, IAMALIVE).status is Status.UNKNOWN
    invalid = grade_body("regex", 200, HTML, IAMALIVE, regex="iam(alive")
    assert invalid.status is Status.UNKNOWN
    assert invalid.summary.startswith("invalid regex /iam(alive/: missing )")


# --- auto ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "code", "fmt", "expected"),
    [
        pytest.param(HEALTH_JSON, dumps(IETF_WARN), 200, "health+json", Status.WARNING, id="ietf"),
        pytest.param(JSON, dumps(IETF_DETAILS), 200, "health+json", Status.OK, id="ietf-details"),
        pytest.param(
            TEXT, b'{"status":"fail"}', 503, "health+json", Status.CRITICAL, id="ietf-text"
        ),
        pytest.param(
            JSON,
            dumps({"status": "up", "checks": {"db": [{"status": "down"}]}}),
            200,
            "health+json",
            Status.CRITICAL,
            id="ietf-up-with-checks",
        ),
        pytest.param(SPRING_V3, dumps(SPRING_NESTED), 503, "spring", Status.CRITICAL, id="spring"),
        pytest.param(
            JSON, dumps(SPRING_OLD_DETAILS), 503, "spring", Status.CRITICAL, id="spring-old"
        ),
        pytest.param(
            JSON, b'{"status":"UP","groups":["liveness"]}', 200, "spring", Status.OK, id="up"
        ),
        pytest.param(JSON, b'{"status":"out_of_service"}', 503, "spring", Status.WARNING, id="oos"),
        pytest.param(TEXT, K8S_FAILED, 500, "k8s", Status.CRITICAL, id="k8s-verbose"),
        pytest.param(TEXT, b"ok", 200, "k8s", Status.OK, id="k8s-ok"),
        pytest.param(HTML, IAMALIVE, 200, "status-code", Status.OK, id="html"),
        pytest.param(
            JSON,
            b'{"state":"running","role":"replica"}',
            503,
            "generic",  # read generically: running, but a 503 (Patroni's own document: patroni)
            Status.CRITICAL,
            id="patroni",
        ),
        pytest.param(TEXT, b"", 204, "status-code", Status.OK, id="empty"),
    ],
)
def test_auto_detects_each_format(
    content_type: str, body: bytes, code: int, fmt: str, expected: Status
) -> None:
    verdict = grade_body("auto", code, content_type, body)
    assert (verdict.format, verdict.status) == (fmt, expected)


def test_auto_grades_exactly_like_the_detected_format() -> None:
    for fmt, code, content_type, body in [
        ("health+json", 200, HEALTH_JSON, dumps(IETF_WARN)),
        ("spring", 503, JSON, dumps(SPRING_NESTED)),
        ("k8s", 500, TEXT, K8S_FAILED),
    ]:
        assert grade_body("auto", code, content_type, body) == grade_body(
            fmt, code, content_type, body
        )


# --- bad input -----------------------------------------------------------------------------


def test_invalid_json_under_a_json_content_type_is_unknown() -> None:
    body = b'{"status": "UP", "components": {'
    auto = grade_body("auto", 200, "application/json; charset=utf-8", body)
    assert auto.status is Status.UNKNOWN
    assert (
        auto.summary
        == "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 33"
    )
    assert auto.format == "auto"
    spring = grade_body("spring", 200, JSON, body)
    assert (spring.status, spring.format) == (Status.UNKNOWN, "spring")
    assert spring.summary.startswith("invalid JSON: ")
    ietf = grade_body("auto", 200, HEALTH_JSON, b"pass")
    assert (ietf.status, ietf.format) == (Status.UNKNOWN, "health+json")


def test_json_nested_too_deeply_for_the_parser_is_unknown() -> None:
    body = b'{"a":' * 200_000 + b"1" + b"}" * 200_000
    verdict = grade_body("auto", 200, JSON, body)
    assert verdict.status is Status.UNKNOWN
    assert verdict.summary.startswith("invalid JSON")


def test_json_that_is_not_an_object_is_unknown() -> None:
    body = b'[{"status": "pass"}]'
    # No format's shape: read generically, an array of parts each with its state (an array of
    # checks is Consul's, tested there); a healthy reading with an error code is CRITICAL.
    auto = grade_body("auto", 200, JSON, body)
    assert (auto.status, auto.format, auto.body_decides) == (Status.OK, "generic", True)
    assert grade_body("auto", 500, JSON, body).status is Status.CRITICAL
    numbers = grade_body("auto", 200, JSON, b"[1, 2]")
    assert (numbers.status, numbers.format, numbers.body_decides) == (
        Status.OK,
        "status-code",
        False,
    )
    ietf = grade_body("health+json", 200, HEALTH_JSON, b'"pass"')
    assert (ietf.status, ietf.summary) == (Status.UNKNOWN, "JSON string, not an object")


def test_truncated_body_is_unknown_unless_the_status_code_decides() -> None:
    cut = dumps(IETF_WARN)[:200]
    for fmt in ("health+json", "spring", "k8s", "regex"):
        verdict = grade_body(fmt, 200, HEALTH_JSON, cut, regex="iamalive", truncated=True)
        assert verdict == Verdict(Status.UNKNOWN, "body larger than the cap: cut, not graded", fmt)
    auto_json = grade_body("auto", 200, JSON, cut, truncated=True)
    assert (auto_json.status, auto_json.format) == (Status.UNKNOWN, "auto")
    auto_ietf = grade_body("auto", 200, HEALTH_JSON, cut, truncated=True)
    assert (auto_ietf.status, auto_ietf.format) == (Status.UNKNOWN, "health+json")
    auto_k8s = grade_body("auto", 200, TEXT, K8S_FAILED[:40], truncated=True)
    assert (auto_k8s.status, auto_k8s.format) == (Status.UNKNOWN, "k8s")
    # A cut body decides nothing: an unexpected code still makes it CRITICAL.
    failing_k8s = grade_body("auto", 500, TEXT, K8S_FAILED[:40], truncated=True)
    assert (failing_k8s.status, failing_k8s.summary) == (
        Status.CRITICAL,
        "HTTP 500, expected 2xx, 3xx; body larger than the cap: cut, not graded",
    )
    page = b"<html>" + b"x" * 1000
    assert grade_body("auto", 503, HTML, page, truncated=True).status is Status.CRITICAL
    assert grade_body("status-code", 200, JSON, cut, truncated=True).status is Status.OK


def test_non_utf8_bytes_are_replaced_not_fatal() -> None:
    k8s = grade_body(
        "auto", 500, TEXT, b"[+]ping ok\n[-]db failed: caf\xe9 \xff\xfe\nhealthz check failed\n"
    )
    assert k8s.status is Status.CRITICAL
    assert by_name(k8s)["db"].output == "caf\ufffd \ufffd\ufffd"
    ietf = grade_body(
        "auto", 503, HEALTH_JSON, b'{"status": "fail", "checks": {"d\xe9b": [{"status": "fail"}]}}'
    )
    assert ietf.status is Status.CRITICAL
    assert [component.name for component in ietf.components] == ["d\ufffdb"]
    bom = grade_body("auto", 200, JSON, b'\xef\xbb\xbf{"status": "UP"}')
    assert (bom.format, bom.status) == ("spring", Status.OK)


def test_markup_is_kept_as_text_and_outputs_are_one_capped_line() -> None:
    long_output = "<b>down</b> &amp; <script>alert(1)</script>\r\n" + "trace line\n" * 200
    document = {
        "status": "fail",
        "checks": {"web:<i>x</i>": [{"status": "fail", "output": long_output}]},
    }
    verdict = grade_body("health+json", 503, HEALTH_JSON, dumps(document))
    (component,) = verdict.components
    assert component.name == "web:<i>x</i>"
    assert component.output.startswith("<b>down</b> &amp; <script>alert(1)</script> trace line")
    assert len(component.output) <= OUTPUT_CAP
    assert component.output.endswith("...")
    assert not any(char in component.output for char in "\r\n\t")
    assert "\n" not in verdict.summary


def test_150_components_are_capped_at_100_keeping_the_failing_ones() -> None:
    checks = {
        f"disk:{index:03d}": [{"status": "fail" if index >= 140 else "pass"}]
        for index in range(150)
    }
    verdict = grade_body(
        "health+json", 503, HEALTH_JSON, dumps({"status": "fail", "checks": checks})
    )
    assert verdict.status is Status.CRITICAL
    assert len(verdict.components) == MAX_COMPONENTS
    kept = [component.name for component in verdict.components]
    assert kept == sorted(kept)  # document order
    assert {f"disk:{index}" for index in range(140, 150)} <= set(kept)
    assert verdict.summary == (
        "fail: 10 of 150 checks failed: disk:140, disk:141, disk:142, disk:143, disk:144, +5 more"
    )
    assert verdict.omitted == 50


def test_150_spring_components_are_capped_too() -> None:
    components = {f"c{index}": {"status": "UP"} for index in range(150)}
    verdict = grade_body("spring", 200, JSON, dumps({"status": "UP", "components": components}))
    assert verdict.status is Status.OK
    assert len(verdict.components) == MAX_COMPONENTS
    assert verdict.summary == "UP: 150 components ok"
    assert verdict.omitted == 50


def test_unknown_format_is_a_graded_verdict() -> None:
    verdict = grade_body("xml", 200, TEXT, b"ok")
    assert verdict.status is Status.UNKNOWN
    assert verdict.summary == "unknown healthz format 'xml'"


def test_random_bodies_never_raise() -> None:
    rng = random.Random(20240301)
    pieces = [b"{", b"}", b"[", b"]", b'"status"', b":", b'"UP"', b'"fail"', b"[+]x ok\n",
              b"[-]y failed: z\n", b"ok", b"\xff", b"\n", b",", b'"checks"', b'"components"',
              b"null", b"1e999", b"\x00"]  # fmt: skip
    for _ in range(2000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        fmt = rng.choice(FORMATS)
        content_type = rng.choice([JSON, HEALTH_JSON, TEXT, HTML, ""])
        verdict = grade_body(
            fmt,
            rng.choice([200, 503]),
            content_type,
            body,
            regex="UP",
            truncated=rng.random() < 0.1,
        )
        assert isinstance(verdict.status, Status)
        assert "\n" not in verdict.summary and verdict.summary
        assert verdict.format in FORMATS
