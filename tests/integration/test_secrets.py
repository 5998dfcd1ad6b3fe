"""Credentials in a probe's URL or token file never reach /status, reports, logs or metrics."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path
from urllib.parse import quote

from tests.support.echo_server import echoing_server
from tests.support.exporter_process import running_exporter, site_status, wait_until
from tests.support.http_server import misbehaving_server

PASSWORD = "pw-Zq81xx"
TOKEN = "tok-Yc72kd"
QUERY_SECRET = "qs-Hh55ab"


def test_secrets_are_masked_everywhere(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    reports = tmp_path / "reports.jsonl"
    with misbehaving_server() as server:
        # Failing endpoints that repeat the credentials they were sent.
        for path, echo in (("/basic", f"saw {PASSWORD} {QUERY_SECRET}"), ("/bearer", TOKEN)):
            server.route(
                path,
                status=503,
                content_type="application/health+json",
                body=json.dumps(
                    {
                        "status": "fail",
                        "checks": {"auth:echo": [{"status": "fail", "output": echo}]},
                    }
                ),
            )
        with_password = server.url("/basic").replace("http://", f"http://admin:{PASSWORD}@")
        config = tmp_path / "site.yaml"
        config.write_text(
            textwrap.dedent(f"""
            site: {{name: secret-site}}
            reports: {{file: {reports}}}
            # A timeout is capped by the interval: 5 s each, so a loaded machine's stall is no
            # failure (the first runs come within the jitter, 0.5 s).
            defaults: {{interval: 5s, timeout: 5s}}
            probes:
              - {{name: basic, kind: http, url: "{with_password}?token={QUERY_SECRET}"}}
              - {{name: bearer, kind: http, url: "{server.url("/bearer")}",
                 bearer_token_file: "{token_file}"}}
              - {{name: refused, kind: http, url: "http://admin:{PASSWORD}@127.0.0.1:1/x"}}
        """)
        )
        with running_exporter(config, tmp_path) as exporter:
            # CRITICAL on the echoed 503s (and the refused port), not on a timeout: a timed-out
            # probe echoes nothing, and masking would be checked on nothing.
            wait_until(
                lambda: all(
                    p["status"] == "CRITICAL" and "timed out" not in p["summary"]
                    for p in exporter.status()["probes"]
                ),
                timeout=20,
            )
            wait_until(
                lambda: reports.exists() and reports.read_text().count("transition") >= 3,
                timeout=10,
            )
            status_text = exporter.get("/status")[1].decode()
            metrics_text = exporter.get("/metrics")[1].decode()
            assert server.requests, "the probes reached the server"
            assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in server.requests)
        sinks = {
            "status": status_text,
            "metrics": metrics_text,
            "reports": reports.read_text(),
            "log": exporter.log_text(),
        }
    for sink, text in sinks.items():
        for secret in (PASSWORD, TOKEN, QUERY_SECRET):
            assert secret not in text, f"{secret} leaked into {sink}"
    assert "admin:***@" in sinks["status"]
    assert "***" in sinks["reports"]


#: Secrets that escaping changes: a quote, a backslash, non-ASCII, URL-special characters.
TRICKY_PASSWORD = 'pw"back\\slash✓-Zq81'
TRICKY_KEY = 'key"with\\quote-Kx93'
TRICKY_TOKEN = "tok+&=%/ é-Lp27"  # in the URL's query
TRICKY_HEADER = 'hdr+&=%/ "\\-Wm46'  # header values are ASCII
ENCODINGS = {
    "raw": lambda value: value,
    "JSON-escaped": lambda value: json.dumps(value)[1:-1],
    "JSON-escaped (ASCII)": lambda value: json.dumps(value, ensure_ascii=True)[1:-1],
    "URL-encoded": lambda value: quote(value, safe=""),
    "base64": lambda value: base64.b64encode(value.encode()).decode(),
}


def test_echoed_secrets_leave_in_no_encoding(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(TRICKY_PASSWORD + "\n")
    key_file = tmp_path / "api-key"
    key_file.write_text(TRICKY_KEY + "\n")
    reports = tmp_path / "reports.jsonl"
    basic = base64.b64encode(f"admin:{TRICKY_PASSWORD}".encode()).decode()
    with echoing_server() as backend:
        config = tmp_path / "site.yaml"
        config.write_text(
            textwrap.dedent(f"""
            site: {{name: secret-site}}
            reports: {{file: {reports}}}
            defaults: {{interval: 5s, timeout: 5s}}  # a timeout is capped by the interval
            probes:
              - name: json-echo
                kind: http
                url: "{backend}/json?token={quote(TRICKY_TOKEN, safe="")}"
                basic_auth: {{username: admin, password_file: {password_file}}}
                header_files: {{X-API-Key: {key_file}}}
              - name: text-echo
                kind: http
                url: "{backend}/text"
                headers: {{X-Auth-Token: '{TRICKY_HEADER}'}}
                header_files: {{X-API-Key: {key_file}}}
        """)
        )
        with running_exporter(config, tmp_path) as exporter:
            # Both probes CRITICAL on the echoed body, not on a timeout of a loaded machine.
            wait_until(
                lambda: all(
                    p["status"] == "CRITICAL" and "timed out" not in p["summary"]
                    for p in exporter.status()["probes"]
                ),
                timeout=20,
            )
            wait_until(lambda: reports.exists() and "transition" in reports.read_text(), 10)
            status_text = exporter.get("/status")[1].decode()
            metrics_text = exporter.get("/metrics")[1].decode()
        checked = site_status("check", "--config", str(config), "--format", "json")
        sinks = {
            "status": status_text,
            "metrics": metrics_text,
            "reports": reports.read_text(),
            "log": exporter.log_text(),
            "check --format json": checked.stdout + checked.stderr,
        }
    assert "X-API-Key" in status_text and "Authorization" in status_text  # the echo came back
    for sink, text in sinks.items():
        assert basic not in text, f"base64(user:password) leaked into {sink}"
        for secret in (TRICKY_PASSWORD, TRICKY_KEY, TRICKY_TOKEN, TRICKY_HEADER):
            for encoding, encode in ENCODINGS.items():
                assert encode(secret) not in text, f"{secret} ({encoding}) leaked into {sink}"
