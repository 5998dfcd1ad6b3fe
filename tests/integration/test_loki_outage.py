"""Loki down for 500 transitions and an exporter restart in the middle: every report arrives
once Loki is back, in order per stream, none twice (the real ``site-status run`` process).

The exporter also writes every report to a JSONL file (both sinks get each report, Loki's
spool first): that file is the record of what was produced, and Loki must end up with exactly
its lines. (Killed with SIGKILL, the process may die between the two: then Loki has the last
reports the file lacks, never the reverse.) Under load a probe may time out or go stale for a
moment; those are reports like any other.
"""

from __future__ import annotations

import base64
import itertools
import json
import signal
import textwrap
import time
from collections import Counter
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
        defaults: {{interval: 0.5s, timeout: 0.4s, jitter: 0.02s}}
        reports:
          snapshot_interval: 1h
          file: {tmp_path}/produced.jsonl
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
    # All 50: right after start /status may list none yet (the scheduler configures the store).
    probes = exporter.status()["probes"]
    return len(probes) == PROBES and all(p["status"] == status for p in probes)


def produced(tmp_path: Path) -> list[str]:
    path = tmp_path / "produced.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def run_rounds(exporter: RunningExporter, tmp_path: Path, first_round: int) -> None:
    for round_number in range(first_round, first_round + ROUNDS_PER_RUN):
        present = round_number % 2 == 1  # round 0 removes the files: CRITICAL
        set_files(tmp_path, present)
        status = "OK" if present else "CRITICAL"
        wait_until(lambda s=status: all_probes_are(exporter, s), timeout=30, interval=0.05)


def settle(tmp_path: Path, transitions_at_least: int) -> None:
    """Until the produced reports hold at least these transitions."""
    deadline = time.monotonic() + 30
    while True:
        count = sum('"transition"' in line for line in produced(tmp_path))
        if count >= transitions_at_least:
            return
        assert time.monotonic() < deadline, (
            f"{count} of {transitions_at_least} transitions; file-00: "
            + str(
                [
                    (r["previous_status"], r["status"], r["cause"])
                    for r in map(json.loads, produced(tmp_path))
                    if r["report_type"] == "transition" and r["probe"]["name"] == "file-00"
                ]
            )
        )
        time.sleep(0.05)


def expected_statuses() -> list[str]:
    """Per probe, the OK/CRITICAL statuses it moved to, repeats collapsed: OK at start, 5
    flips, the restart (reported afresh, the same status), 5 more flips."""
    statuses = ["OK"] + ["OK" if n % 2 == 1 else "CRITICAL" for n in range(2 * ROUNDS_PER_RUN)]
    return [status for status, _ in itertools.groupby(statuses)]


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
            wait_until(lambda: all_probes_are(first, "OK"), timeout=30)
            run_rounds(first, tmp_path, 0)
            settle(tmp_path, PROBES * (1 + ROUNDS_PER_RUN))
            series = first.metrics()
            assert series["site_status_reports_queued", ()] >= PROBES * (1 + ROUNDS_PER_RUN)
            assert series["site_status_reports_retried_total", ()] > 0
            assert series["site_status_report_spool_bytes", ()] > 0
            if restart == "sigterm":
                first.signal(signal.SIGTERM)
                assert first.process.wait(timeout=15) == 0
            else:
                first.signal(signal.SIGKILL)
                first.process.wait(timeout=15)
            killed_at = time.time()
            logs.append(first.log_text())
        (tmp_path / "exporter.log").rename(tmp_path / "first.log")

        with running_exporter(config, tmp_path) as second:
            wait_until(lambda: all_probes_are(second, "CRITICAL"), timeout=30)
            run_rounds(second, tmp_path, ROUNDS_PER_RUN)
            settle(tmp_path, PROBES * 2 * (1 + ROUNDS_PER_RUN))
            assert not double.stored(), "Loki was down all along"
            double.up()
            wait_until(
                lambda: second.metrics()["site_status_reports_queued", ()] == 0,
                timeout=60,
                interval=0.2,
            )
            metrics_text = second.get("/metrics")[1].decode()
            logs.append(second.log_text())
    finally:
        double.close()

    entries = double.stored()
    assert not double.duplicates, "nothing was sent twice"
    lines = produced(tmp_path)
    delivered = Counter(entry.line for entry in entries)
    missing = Counter(lines) - delivered
    assert not missing, f"{sum(missing.values())} produced report(s) never arrived"
    extra = delivered - Counter(lines)
    if restart == "sigterm":
        assert not extra, "Loki has reports that were never produced"
    else:  # spooled, then killed before the file got them: from the moment of the kill
        assert sum(extra.values()) <= PROBES
        for line in extra:
            observed = json.loads(line)["observed_at"]
            assert observed <= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(killed_at + 1))
    reports = [entry.report() for entry in entries]
    for report in reports:
        validate_report(report)
    # In order per stream: arrival order is timestamp order, strictly increasing ...
    streams: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for entry in entries:
        streams.setdefault(entry.labels, []).append(entry.timestamp)
    for stamps in streams.values():
        assert all(a < b for a, b in itertools.pairwise(stamps))
    # ... and each probe's transitions come in the order they were produced.
    produced_order: dict[str, list[str]] = {
        name: [] for name in (f"file-{i:02d}" for i in range(PROBES))
    }
    for line in lines:
        report = json.loads(line)
        if report["report_type"] == "transition":
            produced_order[report["probe"]["name"]].append(line)
    arrived: dict[str, list[tuple[int, str]]] = {}
    for entry, report in zip(entries, reports, strict=True):
        if report["report_type"] == "transition":
            arrived.setdefault(report["probe"]["name"], []).append((entry.timestamp, entry.line))
    assert len(arrived) == PROBES
    for name, timed in arrived.items():
        in_order = [line for _, line in sorted(timed)]
        assert [line for line in in_order if line not in extra] == produced_order[name], name
        own = [json.loads(line) for _, line in sorted(timed)]
        # Under load a run may also time out (UNKNOWN) or go stale: those are reports too,
        # but the flips the test made are the OK and CRITICAL ones.
        statuses = [r["status"] for r in own if r["status"] in ("OK", "CRITICAL")]
        assert [s for s, _ in itertools.groupby(statuses)] == expected_statuses(), name
    transitions = sum(len(timed) for timed in arrived.values())
    assert transitions >= PROBES * 2 * (1 + ROUNDS_PER_RUN)  # the 500 flips and 2 x 50 starts
    shutdown_snapshots = [r for r in reports if r.get("trigger") == "shutdown"]
    assert len(shutdown_snapshots) == (1 if restart == "sigterm" else 0)
    assert all(r.headers.get("x-scope-orgid") == "ops" for r in double.answered())
    for text in (*logs, metrics_text):
        assert PASSWORD not in text
