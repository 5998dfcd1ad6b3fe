"""Loki down for 500 transitions and an exporter restart in the middle: every report arrives
once Loki is back, in order per stream, none twice (the real ``site-status run`` process)."""

from __future__ import annotations

import base64
import itertools
import signal
import textwrap
from pathlib import Path

import pytest

from tests.support.exporter_process import RunningExporter, running_exporter, wait_until
from tests.support.loki_double import LokiDouble
from tests.support.reports import validate_report

PROBES = 50
ROUNDS_PER_RUN = 5  # 2 runs x 5 rounds x 50 probes = 500 transitions caused by the test
PASSWORD = "pw-Lk40qq"


def write_config(tmp_path: Path, double: LokiDouble) -> Path:
    password_file = tmp_path / "loki-password"
    password_file.write_text(PASSWORD + "\n")
    probes = "\n".join(
        f"  - {{name: file-{i:02d}, kind: file, path: {tmp_path}/data/f{i:02d}}}"
        for i in range(PROBES)
    )
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(f"""
        site: {{name: outage-site, environment: test, tier: priprod, profile: drupal}}
        defaults: {{interval: 0.2s, timeout: 0.15s, jitter: 0.02s}}
        reports:
          snapshot_interval: 1h
          loki:
            url: {double.url}
            tenant: ops
            basic_auth: {{username: pusher, password_file: {password_file}}}
            batch_max_wait: 100ms
            min_backoff: 50ms
            max_backoff: 300ms
            flush_timeout: 1s
            spool: {{directory: {tmp_path}/spool}}
        probes:
        """)
        + probes
        + "\n"
    )
    return config


def set_files(tmp_path: Path, present: bool) -> None:
    for i in range(PROBES):
        path = tmp_path / "data" / f"f{i:02d}"
        if present:
            path.write_text("x")
        else:
            path.unlink(missing_ok=True)


def all_probes_are(exporter: RunningExporter, status: str) -> bool:
    return all(p["status"] == status for p in exporter.status()["probes"])


def written(exporter: RunningExporter, report_type: str) -> float:
    return exporter.metrics().get(
        ("site_status_reports_written_total", (("type", report_type),)), 0.0
    )


def run_rounds(exporter: RunningExporter, tmp_path: Path, first_round: int) -> None:
    for round_number in range(first_round, first_round + ROUNDS_PER_RUN):
        present = round_number % 2 == 1  # round 0 removes the files: CRITICAL
        set_files(tmp_path, present)
        status = "OK" if present else "CRITICAL"
        wait_until(lambda s=status: all_probes_are(exporter, s), timeout=15, interval=0.05)


def expected_transitions() -> list[tuple[str | None, str]]:
    """Per probe: OK at start, 5 flips, a restart (previous unknown), 5 more flips."""
    sequence: list[tuple[str | None, str]] = [(None, "OK")]
    status = "OK"
    for round_number in range(2 * ROUNDS_PER_RUN):
        if round_number == ROUNDS_PER_RUN:
            sequence.append((None, status))  # the new process reports each probe afresh
        new = "OK" if round_number % 2 == 1 else "CRITICAL"
        sequence.append((status, new))
        status = new
    return sequence


@pytest.mark.parametrize("restart", ["sigterm", "sigkill"])
def test_outage_with_a_restart_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, restart: str
) -> None:
    (tmp_path / "data").mkdir()
    set_files(tmp_path, present=True)
    expected_auth = "Basic " + base64.b64encode(f"pusher:{PASSWORD}".encode()).decode()
    double = LokiDouble(expected_authorization=expected_auth, require_tenant=True)  # down
    logs = []
    try:
        config = write_config(tmp_path, double)
        with running_exporter(config, tmp_path) as first:
            wait_until(lambda: all_probes_are(first, "OK"), timeout=15)
            run_rounds(first, tmp_path, 0)
            # Every transition is in the spool before the process goes.
            transitions = PROBES * (1 + ROUNDS_PER_RUN)
            wait_until(lambda: written(first, "transition") == transitions, timeout=10)
            series = first.metrics()
            assert series["site_status_reports_queued", ()] >= transitions
            assert series["site_status_reports_retried_total", ()] > 0
            assert series["site_status_report_spool_bytes", ()] > 0
            if restart == "sigterm":
                first.signal(signal.SIGTERM)
                assert first.process.wait(timeout=10) == 0
            else:
                first.signal(signal.SIGKILL)
                first.process.wait(timeout=10)
            logs.append(first.log_text())
        (tmp_path / "exporter.log").rename(tmp_path / "first.log")

        with running_exporter(config, tmp_path) as second:
            wait_until(lambda: all_probes_are(second, "CRITICAL"), timeout=15)
            run_rounds(second, tmp_path, ROUNDS_PER_RUN)
            wait_until(
                lambda: written(second, "transition") == PROBES * (1 + ROUNDS_PER_RUN), timeout=10
            )
            assert not double.stored(), "Loki was down all along"
            double.up()
            wait_until(
                lambda: second.metrics()["site_status_reports_queued", ()] == 0,
                timeout=30,
                interval=0.2,
            )
            metrics_text = second.get("/metrics")[1].decode()
            logs.append(second.log_text())
    finally:
        double.close()

    entries = double.stored()
    assert not double.duplicates, "nothing was sent twice"
    reports = [entry.report() for entry in entries]
    for report in reports:
        validate_report(report)
    by_probe: dict[str, list[tuple[int, tuple[str | None, str]]]] = {}
    for entry, report in zip(entries, reports, strict=True):
        if report["report_type"] == "transition":
            change = (report["previous_status"], report["status"])
            by_probe.setdefault(report["probe"]["name"], []).append((entry.timestamp, change))
    assert len(by_probe) == PROBES
    for name, changes in by_probe.items():
        assert [change for _, change in sorted(changes)] == expected_transitions(), name
    assert sum(len(changes) for changes in by_probe.values()) == PROBES * 12
    # In order per stream: arrival order is timestamp order, strictly increasing.
    streams: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for entry in entries:
        streams.setdefault(entry.labels, []).append(entry.timestamp)
    for stamps in streams.values():
        assert all(a < b for a, b in itertools.pairwise(stamps))
    shutdown_snapshots = [r for r in reports if r.get("trigger") == "shutdown"]
    assert len(shutdown_snapshots) == (1 if restart == "sigterm" else 0)
    assert all(r.headers.get("x-scope-orgid") == "ops" for r in double.answered())
    for text in (*logs, metrics_text):
        assert PASSWORD not in text
