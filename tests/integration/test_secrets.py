"""Credentials in a probe's URL or token file never reach /status, reports, logs or metrics."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.support.exporter_process import running_exporter, wait_until
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
            defaults: {{interval: 0.5s, timeout: 0.4s}}
            probes:
              - {{name: basic, kind: http, url: "{with_password}?token={QUERY_SECRET}"}}
              - {{name: bearer, kind: http, url: "{server.url("/bearer")}",
                 bearer_token_file: "{token_file}"}}
              - {{name: refused, kind: http, url: "http://admin:{PASSWORD}@127.0.0.1:1/x"}}
        """)
        )
        with running_exporter(config, tmp_path) as exporter:
            wait_until(
                lambda: all(p["status"] == "CRITICAL" for p in exporter.status()["probes"]),
                timeout=10,
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
