"""``site-status run``: SIGHUP reloads, a bad reload keeps the last good config, reports."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

from exporter.config import default_report_file
from tests.support.exporter_process import (
    command_env,
    free_port,
    parse_series,
    running_exporter,
    start_exporter,
    wait_until,
)
from tests.support.reports import validate_report


def status_key(name: str, kind: str = "file") -> tuple[str, tuple[tuple[str, str], ...]]:
    return "site_status_probe_status", (("kind", kind), ("probe", name))


def write(config: Path, text: str) -> None:
    config.write_text(textwrap.dedent(text))


def test_sighup_reload_and_bad_reload(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.write_text("x")
    config = tmp_path / "site.yaml"
    reports = tmp_path / "reports.jsonl"
    write(
        config,
        f"""
        site: {{name: reload-site}}
        reports: {{file: {reports}}}
        # 5 s timeouts (a timeout is capped by the interval): a first run that timed out on a
        # loaded machine would be UNKNOWN, not the CRITICAL and OK checked below.
        defaults: {{interval: 5s, timeout: 5s}}
        probes:
          - {{name: present, kind: file, path: {present}}}
          - {{name: going, kind: file, path: {tmp_path}/missing}}
    """,
    )
    with running_exporter(config, tmp_path) as exporter:
        wait_until(lambda: exporter.metrics().get(status_key("going")) == 2, timeout=20)
        assert exporter.metrics()["site_status_config_last_reload_successful", ()] == 1

        write(config, "probes: [{name: broken, kind: file}]\n")
        exporter.signal(signal.SIGHUP)
        wait_until(
            lambda: exporter.metrics()["site_status_config_last_reload_successful", ()] == 0,
            timeout=20,
        )
        series = exporter.metrics()
        assert series[status_key("present")] == 0  # the last good config is still in force
        health = json.loads(exporter.get("/healthz")[1])
        assert health["status"] == "warn"
        assert "probes[0].path" in health["checks"]["config:reload"][0]["output"]
        assert "config reload failed" in exporter.log_text()

        write(
            config,
            f"""
            site: {{name: reload-site, tier: priprod}}
            reports: {{file: {reports}}}
            defaults: {{interval: 5s, timeout: 5s}}
            probes:
              - {{name: present, kind: file, path: {present}}}
              - {{name: load, kind: load}}
        """,
        )
        exporter.signal(signal.SIGHUP)
        wait_until(lambda: exporter.metrics().get(status_key("load", "load")) is not None, 20)
        series = exporter.metrics()
        assert series["site_status_config_last_reload_successful", ()] == 1
        assert status_key("going") not in series  # removed probes' series disappear
        assert (
            series[
                "site_status_site_info",
                (
                    ("environment", "prod"),
                    ("profile", ""),
                    ("site", "reload-site"),
                    ("tier", "priprod"),
                ),
            ]
            == 1
        )

        exporter.signal(signal.SIGTERM)
        assert exporter.process.wait(timeout=15) == 0

    lines = [json.loads(line) for line in reports.read_text().splitlines()]
    for line in lines:
        validate_report(line)
    transitions = [r for r in lines if r["report_type"] == "transition"]
    assert {"probe": "going", "status": "CRITICAL", "previous_status": None} in [
        {
            "probe": r["probe"]["name"],
            "status": r["status"],
            "previous_status": r["previous_status"],
        }
        for r in transitions
    ]
    assert lines[-1]["report_type"] == "snapshot"  # written at shutdown
    assert lines[-1]["trigger"] == "shutdown"
    assert {p["name"] for p in lines[-1]["probes"]} == {"present", "load"}


def test_run_without_config_serves_the_embedded_default(tmp_path: Path) -> None:
    port = free_port()
    env = command_env() | {"STATE_DIRECTORY": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", "run", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def scrape() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body: str = r.read().decode()
            except OSError:
                return None
            statuses = parse_series(body)
            ready = ("site_status_probe_status", (("kind", "disk"), ("probe", "filesystems")))
            return body if statuses.get(ready, 3) != 3 else None

        body = wait_until(scrape, timeout=20, interval=0.2)
        assert 'site_status_disk_size_bytes{probe="filesystems",mountpoint="/"}' in body
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        # The embedded default's site is the host name: its reports have a file of their own.
        reports = tmp_path / default_report_file(socket.gethostname())
        assert json.loads(reports.read_text().splitlines()[-1])["report_type"] == "snapshot"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_status_lists_every_configured_probe_from_the_first_answer(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(f"""
        reports: {{file: {tmp_path / "reports.jsonl"}}}
        defaults: {{interval: 1h, jitter: 30m}}
        probes:
          - {{name: a, kind: file, path: {config}}}
          - {{name: b, kind: file, path: {config}}}
        """)
    )
    exporter = start_exporter(config, tmp_path / "exporter.log")
    try:
        # The very first answer /status gives, polled from the process' start.
        def first_answer() -> dict[str, Any] | None:
            with contextlib.suppress(OSError):
                return exporter.status()
            return None

        document = wait_until(first_answer, timeout=20, interval=0.002)
    finally:
        exporter.process.kill()
        exporter.process.wait(timeout=5)
    assert sorted(p["name"] for p in document["probes"]) == ["a", "b"]
