"""The http probe against real servers on loopback: formats, bad answers, TLS, secrets."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from exporter.context import ProbeRuntime
from exporter.probe_api import Result
from exporter.status import Status
from probes.http.probe import KIND, HttpProbe
from tests.support.context import make_context
from tests.support.http_server import MisbehavingServer, misbehaving_server
from tests.support.timing import LOADED

IETF_WARN = {
    "status": "warn",
    "checks": {
        "db:connections": [{"status": "warn", "observedValue": 95, "output": "pool almost full"}],
        "cache:responseTime": [{"status": "pass", "observedValue": 2, "observedUnit": "ms"}],
    },
}
IETF_OLD_FAIL = {"status": "fail", "details": {"disk:free": {"status": "fail", "output": "full"}}}
SPRING_DOWN = {
    "status": "DOWN",
    "components": {
        "db": {
            "status": "DOWN",
            "components": {
                "primary": {"status": "DOWN", "details": {"error": "timeout"}},
                "replica": {"status": "UP"},
            },
        },
        "diskSpace": {"status": "UP"},
    },
}
K8S_FAILED = (
    "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n[+]poststarthook/x ok\n"
    "healthz check failed\n"
)


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with misbehaving_server() as running:
        yield running


def probe(url: str, **options: Any) -> HttpProbe:
    return HttpProbe.model_validate({"name": "web", "kind": "http", "url": url, **options})


async def run(
    config: HttpProbe, timeout: float = 5.0, runtime: ProbeRuntime | None = None
) -> Result:
    return await KIND.run(config, make_context(timeout, runtime=runtime))


def samples(result: Result) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.family, s.labels): s.value for s in result.samples}


async def test_ietf_checks_with_warn(server: MisbehavingServer) -> None:
    server.route("/h", body=json.dumps(IETF_WARN), content_type="application/health+json")
    result = await run(probe(server.url("/h")))
    assert result.status is Status.WARNING
    assert "db:connections" in result.summary
    components = {c["name"]: c for c in result.details["components"]}
    assert components["db:connections"]["status"] == "WARNING"
    values = samples(result)
    assert values["site_status_http_component_status", ("db:connections",)] == 1
    assert values["site_status_http_component_status", ("cache:responseTime",)] == 0
    assert values["site_status_http_status_code", ()] == 200


async def test_older_details_variant_failing(server: MisbehavingServer) -> None:
    server.route("/h", status=503, body=json.dumps(IETF_OLD_FAIL), content_type="application/json")
    result = await run(probe(server.url("/h")))
    assert result.status is Status.CRITICAL
    assert "disk:free" in result.summary


async def test_nested_spring_components(server: MisbehavingServer) -> None:
    server.route(
        "/actuator/health",
        status=503,
        body=json.dumps(SPRING_DOWN),
        content_type="application/vnd.spring-boot.actuator.v3+json",
    )
    result = await run(probe(server.url("/actuator/health")))
    assert result.status is Status.CRITICAL
    assert result.details["format"] == "spring"
    names = {c["name"]: c["status"] for c in result.details["components"]}
    assert names["db.primary"] == "CRITICAL"
    assert names["db.replica"] == "OK"


async def test_kubernetes_verbose_output(server: MisbehavingServer) -> None:
    server.route("/livez", status=500, body=K8S_FAILED)
    result = await run(probe(server.url("/livez?verbose")))
    assert result.status is Status.CRITICAL
    assert "etcd" in result.summary
    components = {c["name"]: c for c in result.details["components"]}
    assert components["etcd"]["output"] == "reason withheld"


async def test_plain_iamalive_page_with_regex(server: MisbehavingServer) -> None:
    server.route("/alive", body="<html><body>iamalive</body></html>", content_type="text/html")
    assert (
        await run(probe(server.url("/alive"), format="regex", regex="iamalive"))
    ).status is Status.OK
    server.route("/alive", body="<html>maintenance</html>", content_type="text/html")
    result = await run(probe(server.url("/alive"), format="regex", regex="iamalive"))
    assert result.status is Status.CRITICAL
    assert "iamalive" in result.summary


async def test_status_code_json_field_and_body_patterns(server: MisbehavingServer) -> None:
    server.route("/leader", status=503, body="")
    result = await run(probe(server.url("/leader"), format="status-code"))
    assert (result.status, result.summary) == (Status.CRITICAL, "HTTP 503, expected 2xx, 3xx")
    server.route(
        "/api", body=json.dumps({"data": [{"state": "degraded"}]}), content_type="application/json"
    )
    result = await run(
        probe(
            server.url("/api"),
            format="status-code",
            json_field={"path": "data.0.state", "equals": "ok"},
            body_must_not_match=["degraded"],
        )
    )
    assert result.status is Status.CRITICAL
    assert 'data.0.state is "degraded", expected "ok"' in result.summary
    assert "body matches /degraded/" in result.summary
    assert (
        await run(probe(server.url("/leader"), expect_status=[503], format="status-code"))
    ).status is Status.OK


async def test_invalid_json_under_a_json_content_type(server: MisbehavingServer) -> None:
    server.route("/h", body="{not json", content_type="application/json")
    result = await run(probe(server.url("/h")))
    assert result.status is Status.UNKNOWN
    assert "invalid JSON" in result.summary


async def test_a_5_mib_body_is_cut_at_the_cap(server: MisbehavingServer) -> None:
    server.route("/big", behaviour="huge", body=b"")
    result = await run(probe(server.url("/big")))
    assert result.status is Status.UNKNOWN
    assert "cap" in result.summary
    assert result.details["truncated"] is True
    assert result.details["body_bytes"] == 1024 * 1024


async def test_slow_loris_is_critical_within_the_timeout(server: MisbehavingServer) -> None:
    server.route("/slow", behaviour="stall_after_headers", body=b"")
    # 2 s: the headers come in time on a loaded machine too, then the body never does.
    started = time.monotonic()
    result = await run(probe(server.url("/slow")), timeout=2.0)
    assert time.monotonic() - started < 2.0 + LOADED
    assert result.status is Status.CRITICAL
    assert result.summary == (
        f"timed out after 2s reading the body from 127.0.0.1:{server.port}"
        " (the headers came, then it stalled)"
    )


async def test_close_mid_body(server: MisbehavingServer) -> None:
    server.route("/cut", behaviour="close_mid_body", body=b'{"status": "pa')
    result = await run(probe(server.url("/cut")))
    assert result.status is Status.CRITICAL
    assert "closed mid-body" in result.summary


async def test_connection_refused() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = await run(probe(f"http://127.0.0.1:{port}/healthz"))
    refused = f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert (result.status, result.summary) == (Status.CRITICAL, refused)


async def test_a_name_that_does_not_resolve_is_named() -> None:
    # Was "cannot connect: [Errno -2] Name or service not known", without the host (issue 27);
    # .invalid never resolves (RFC 6761).
    result = await run(probe("http://site-status-test.invalid/healthz"))
    assert result.status is Status.CRITICAL
    assert result.summary.startswith("cannot resolve site-status-test.invalid: "), result.summary
    assert "[Errno" not in result.summary


def tls_context(ca: trustme.CA, *hosts: str, days: float) -> ssl.SSLContext:
    not_after = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
    leaf = ca.issue_cert(*hosts, not_after=not_after)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return context


@pytest.fixture
def ca_file(tmp_path: Path) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


async def test_certificate_expiring_in_3_days(ca_file: tuple[trustme.CA, str]) -> None:
    ca, path = ca_file
    with misbehaving_server(tls_context(ca, "127.0.0.1", days=3)) as server:
        server.route("/h", body='{"status":"pass"}', content_type="application/health+json")
        result = await run(probe(server.url("/h"), ca_file=path))
        assert result.status is Status.CRITICAL
        assert "certificate expires in 3 days (min 7)" in result.summary
        expiry = samples(result)["site_status_tls_cert_expiry_timestamp_seconds", ()]
        assert abs(expiry - (time.time() + 3 * 86400)) < 120
        result = await run(
            probe(server.url("/h"), ca_file=path, cert_expiry_days={"warning": 4, "critical": 1})
        )
        assert result.status is Status.WARNING


async def test_wrong_certificate_host(ca_file: tuple[trustme.CA, str]) -> None:
    ca, path = ca_file
    with misbehaving_server(tls_context(ca, "other.example", days=90)) as server:
        server.route("/h", body="ok")
        result = await run(probe(server.url("/h"), ca_file=path))
        assert result.status is Status.CRITICAL
        handshake = f"TLS handshake with 127.0.0.1:{server.port} failed: IP address mismatch"
        assert result.summary.startswith(handshake), result.summary
        unverified = await run(probe(server.url("/h"), verify=False))
        assert unverified.status is Status.OK


async def test_one_shared_client_per_tls_setting(server: MisbehavingServer) -> None:
    server.route("/h", body="ok")
    runtime = ProbeRuntime()
    for options in ({}, {}, {"verify": False}, {"verify": False}):
        assert (await run(probe(server.url("/h"), **options), runtime=runtime)).status is Status.OK
    clients = [v for v in runtime._shared.values() if type(v).__name__ == "AsyncClient"]
    assert len(clients) == 2
    await runtime.aclose()


async def test_a_cookie_from_one_run_is_never_sent_by_the_next(server: MisbehavingServer) -> None:
    # The shared client keeps connections, not state: a session cookie a healthz endpoint (or a
    # login page on the same host) sets must not change what the next probe run asks.
    server.route("/h", body="ok", headers={"Set-Cookie": "session=abc123; Path=/"})
    runtime = ProbeRuntime()
    for _ in range(2):
        assert (await run(probe(server.url("/h")), runtime=runtime)).status is Status.OK
    await runtime.aclose()
    assert len(server.requests) == 2
    assert all("cookie" not in {k.lower() for k in r.headers} for r in server.requests)


async def test_credentials_never_show(server: MisbehavingServer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-4f9a1c7e\n")

    def echo(text: str) -> None:  # the endpoint repeats a credential in its failure output
        server.route(
            "/h",
            status=503,
            content_type="application/health+json",
            body=json.dumps(
                {
                    "status": "fail",
                    "checks": {"auth:echo": [{"status": "fail", "output": f"got {text}"}]},
                }
            ),
        )

    echo("Bearer tok-4f9a1c7e")
    bearer = await run(probe(server.url("/h"), bearer_token_file=str(token_file)))
    assert server.requests[-1].headers["authorization"] == "Bearer tok-4f9a1c7e"
    url = server.url("/h").replace("http://", "http://admin:pw-83hd71@") + "?token=qs-secret-1"
    echo("pw-83hd71 and qs-secret-1")
    basic = await run(probe(url))
    assert server.requests[-1].headers["authorization"].startswith("Basic ")
    assert "admin:***@" in basic.details["url"]
    for result in (bearer, basic):
        assert result.status is Status.CRITICAL
        text = json.dumps({"summary": result.summary, "details": result.details})
        for secret in ("tok-4f9a1c7e", "pw-83hd71", "qs-secret-1"):
            assert secret not in text


async def test_component_series_keep_the_worst_then_by_name(server: MisbehavingServer) -> None:
    # 30 checks, the failing ones sort last by name: they must still get a series.
    checks: dict[str, Any] = {f"check-{index:02d}": {"status": "UP"} for index in range(28)}
    checks["zz-db"] = {"status": "DOWN", "details": {"error": "Connection refused"}}
    checks["zz-readiness"] = {"status": "OUT_OF_SERVICE"}
    body = json.dumps({"status": "DOWN", "components": checks})
    server.route("/h", status=503, body=body, content_type="application/json")
    result = await run(probe(server.url("/h"), max_components=5))
    assert result.status is Status.CRITICAL
    assert result.summary == (
        "DOWN: 2 of 30 components failed: zz-db (Connection refused), zz-readiness (warning)"
    )
    values = samples(result)
    published = {
        labels[0]: value
        for (family, labels), value in values.items()
        if family == "site_status_http_component_status"
    }
    assert published == {
        "zz-db": 2,
        "zz-readiness": 1,
        "check-00": 0,
        "check-01": 0,
        "check-02": 0,
    }
    assert values["site_status_http_components_omitted", ()] == 25


async def test_the_body_decides_unless_expect_status_is_set(server: MisbehavingServer) -> None:
    body = json.dumps({"status": "OUT_OF_SERVICE"})
    server.route("/h", status=503, body=body, content_type="application/json")
    result = await run(probe(server.url("/h")))
    assert (result.status, result.summary) == (Status.WARNING, "OUT_OF_SERVICE")
    strict = await run(probe(server.url("/h"), expect_status=[200]))
    assert (strict.status, strict.summary) == (
        Status.CRITICAL,
        "HTTP 503, expected 200; OUT_OF_SERVICE",
    )
    # A body that is no health document: the code decides, is said once, and the body's
    # own words are quoted.
    server.route("/page", status=503, body="<html>down</html>", content_type="text/html")
    page = await run(probe(server.url("/page")))
    assert (page.status, page.summary) == (Status.CRITICAL, "HTTP 503: down")


async def test_status_map_from_the_config(server: MisbehavingServer) -> None:
    body = json.dumps({"status": "UP", "components": {"mainframe": {"status": "FATAL"}}})
    server.route("/h", body=body, content_type="application/json")
    plain = await run(probe(server.url("/h")))
    assert plain.status is Status.OK
    mapped = await run(probe(server.url("/h"), status_map={"FATAL": "CRITICAL"}))
    assert mapped.status is Status.CRITICAL
    assert mapped.summary == "UP but mainframe"
    assert {c["name"]: c["status"] for c in mapped.details["components"]} == {
        "mainframe": "CRITICAL"
    }
    with pytest.raises(ValueError, match="status_map"):
        probe(server.url("/h"), status_map={"FATAL": "BROKEN"})
