"""``site-status run`` with drupal probes: series on /metrics, reasons in /status, no secrets."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.support.exporter_process import running_exporter, wait_until

SUPPORT = Path(__file__).resolve().parents[1] / "support"
FIXTURES = Path(__file__).resolve().parents[1] / "probes" / "fixtures" / "drush"
DB_PASSWORD = "Sup3rS3cretDbPass"


def test_drupal_probes_in_a_running_exporter(tmp_path: Path) -> None:
    reports = tmp_path / "reports.jsonl"
    config = tmp_path / "site.yaml"
    drush = SUPPORT / "drush"
    config.write_text(
        textwrap.dedent(f"""
        site: {{name: shop}}
        reports: {{file: {reports}}}
        probes:
          - name: shop
            kind: drupal
            drush: {drush}
            # 10 s (a timeout is capped by the interval): core-requirements and then status,
            # two runs of the Python stand-in, fit in it on a loaded machine too.
            interval: 10s
            timeout: 10s
            env:
              DRUSH_STANDIN_REQUIREMENTS: {FIXTURES / "drush13-requirements.json"}
              DRUSH_STANDIN_STATUS: {FIXTURES / "status.json"}
          - name: broken
            kind: drupal
            drush: {drush}
            interval: 10s
            timeout: 10s
            env:
              DRUSH_STANDIN_MODE: fail
              DRUSH_STANDIN_STDERR: {FIXTURES / "bootstrap-failure.stderr"}
              DRUPAL_DB_PASSWORD: {DB_PASSWORD}
    """)
    )
    with running_exporter(config, tmp_path) as exporter:
        info_labels = (
            ("drupal_version", "10.3.6"),
            ("drush_version", "13.3.1.0"),
            ("php_version", "8.3.12"),
            ("probe", "shop"),
        )
        # CRITICAL on what drush printed, not on a drush run that timed out (a Python stand-in
        # starting on a loaded machine), and the versions from drush status, which the run
        # skips when core-requirements left it too little time.
        wait_until(
            lambda: (
                all(
                    p["status"] == "CRITICAL" and "timed out" not in p["summary"]
                    for p in exporter.status()["probes"]
                )
                and exporter.metrics().get(("site_status_drupal_info", info_labels)) == 1
            ),
            timeout=40,
        )
        series = exporter.metrics()
        status_text = exporter.get("/status")[1].decode()
        metrics_text = exporter.get("/metrics")[1].decode()
        wait_until(lambda: reports.exists() and "broken" in reports.read_text(), timeout=10)
    severity = "site_status_drupal_requirement_severity"
    assert series[severity, (("probe", "shop"), ("requirement", "cron"))] == 2
    assert series[severity, (("probe", "shop"), ("requirement", "public://.htaccess"))] == 0
    assert series["site_status_drupal_info", info_labels] == 1
    count = "site_status_drupal_requirements"
    assert series[count, (("probe", "shop"), ("severity", "error"))] == 3
    assert "# HELP site_status_drupal_requirement_severity " in metrics_text
    probes = {p["name"]: p for p in json.loads(status_text)["probes"]}
    assert probes["shop"]["summary"].startswith("3 errors, 2 warnings: Cron maintenance tasks")
    assert probes["shop"]["details"]["problems"][0]["title"] == "Cron maintenance tasks"
    assert probes["shop"]["interval_seconds"] == 10
    assert probes["broken"]["summary"] == (
        "drush failed (exit 1): SQLSTATE[HY000] [1045] Access denied for user "
        "'drupal'@'10.42.0.17' (using password: YES)"
    )
    sinks = {
        "status": status_text,
        "metrics": metrics_text,
        "reports": reports.read_text(),
        "log": exporter.log_text(),
    }
    for sink, text in sinks.items():
        assert DB_PASSWORD not in text, f"the database password leaked into {sink}"
        assert "tok_live" not in text, f"the status api-token leaked into {sink}"


def test_scrapes_never_run_drush(tmp_path: Path) -> None:
    log = tmp_path / "drush.log"
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(f"""
        reports: {{file: {tmp_path / "reports.jsonl"}}}
        probes:
          - name: shop
            kind: drupal
            drush: {SUPPORT / "drush"}
            interval: 1h
            jitter: 0s
            env:
              DRUSH_STANDIN_REQUIREMENTS: {FIXTURES / "drush11-requirements.json"}
              DRUSH_STANDIN_STATUS: {FIXTURES / "status.json"}
              DRUSH_STANDIN_LOG: {log}
    """)
    )
    with running_exporter(config, tmp_path) as exporter:
        wait_until(lambda: exporter.probe("shop")["status"] == "WARNING", timeout=20)
        for _ in range(30):
            assert exporter.get("/metrics")[0] == 200
            assert exporter.probe("shop")["running"] is False
    starts = [line for line in log.read_text().splitlines() if '"start"' in line]
    assert len(starts) == 2  # core-requirements and status, once; none per scrape
