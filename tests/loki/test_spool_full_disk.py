"""The spool on a really full filesystem: a small tmpfs that the test mounts and fills (tests
run as root). A failed write leaves no file behind, is logged once per episode, and shows in
``/healthz`` (``reports:spool``) and in ``site_status_report_spool_failing`` (issue 13, §6)."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.reports.delivery_checks import report_checks
from exporter.reports.loki.spool import Spool, SpoolEntry
from exporter.reports.stats import ReportStats
from exporter.web.metrics import SelfMetrics
from tests.loki.conftest import SinkFactory, eventually, running, transition
from tests.support.exporter_process import running_exporter, wait_until
from tests.support.loki_double import LokiDouble

LABELS = {"job": "site-status", "site": "shop", "report_type": "transition"}


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem says ENOSPC."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def entry(i: int) -> SpoolEntry:
    return SpoolEntry(LABELS, 1_700_000_000_000_000_000 + i, json.dumps({"n": i, "pad": "x" * 300}))


def spool_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "exporter.reports.loki.spool" and r.levelno >= logging.ERROR
    ]


def test_a_full_disk_leaves_no_empty_segments_and_one_log_line_per_episode(
    small_tmpfs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    directory = small_tmpfs / "spool"
    spool = Spool(directory, 1 << 20, max_queue=1000)
    spool.open()
    # Full before the first write (tmpfs gives a file a page at a time: a page already held
    # would take a few more records).
    filler = fill(small_tmpfs)
    for i in range(20):
        spool.append([entry(i)])
    assert list(directory.iterdir()) == [], "no segment file left behind by a failed write"
    assert len(spool_errors(caplog)) == 1, [r.getMessage() for r in spool_errors(caplog)]
    assert "No space left on device" in spool.failing
    assert spool.write_errors == 20
    assert spool.pending == 20, "held in memory meanwhile"
    # The disk has room again: the next write works, and that ends the episode.
    filler.unlink()
    spool.append([entry(20)])
    assert spool.failing == ""
    assert [p.name for p in directory.iterdir()] == ["segment-000000000001.jsonl"]
    recovered = [r for r in caplog.records if "works again after 20 failure(s)" in r.getMessage()]
    assert len(recovered) == 1
    # A second episode is logged once more; the segment written meanwhile is kept.
    filler = fill(small_tmpfs)
    for i in range(21, 40):
        spool.append([entry(i)])
    assert len(spool_errors(caplog)) == 2
    assert all(p.stat().st_size > 0 for p in directory.iterdir())
    spool.close()


async def test_the_sink_shows_a_full_spool_in_healthz_and_a_series(
    small_tmpfs: Path, double: LokiDouble, make_sink: SinkFactory
) -> None:
    stats = ReportStats()
    sink = make_sink(double.url, stats, spool={"directory": str(small_tmpfs / "spool")})
    async with running(sink):
        assert report_checks(stats)["reports:spool"][0]["status"] == "pass"
        filler = fill(small_tmpfs)
        await sink.submit([transition(f"full-{i}") for i in range(3)])
        check = report_checks(stats)["reports:spool"][0]
        assert check["status"] == "warn" and "No space left on device" in check["output"]
        assert "site_status_report_spool_failing 1.0" in SelfMetrics(stats).render().decode()
        # Loki is up: what is held in memory is delivered all the same.
        await eventually(lambda: len(double.stored()) == 3)
        filler.unlink()
        await sink.submit([transition("after")])
        await eventually(lambda: report_checks(stats)["reports:spool"][0]["status"] == "pass")
    assert "site_status_report_spool_failing 0.0" in SelfMetrics(stats).render().decode()


def test_the_running_exporter_reports_the_full_disk_on_healthz(
    small_tmpfs: Path, double: LokiDouble, tmp_path: Path
) -> None:
    fill(small_tmpfs)
    config = tmp_path / "config.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            site: {{name: shop, environment: prod, tier: priprod}}
            reports:
              loki:
                url: {double.url}
                batch_max_wait: 100ms
                spool: {{directory: {small_tmpfs / "spool"}}}
            probes:
              - {{name: here, kind: file, path: {config_path(tmp_path)}, interval: 1s}}
            """
        )
    )
    with running_exporter(config, tmp_path) as exporter:

        def spool_check() -> dict[str, object] | None:
            status, body = exporter.get("/healthz")
            check = json.loads(body)["checks"].get("reports:spool", [{}])[0]
            return check if status == 200 and check.get("status") == "warn" else None

        check = wait_until(spool_check, timeout=20)
        assert "No space left on device" in str(check["output"])
        wait_until(lambda: double.stored(), timeout=20)  # delivered from memory
        log = exporter.log_text()
    assert log.count("report spool") <= 3, log  # not a line per report


def config_path(tmp_path: Path) -> Path:
    target = tmp_path / "present"
    target.write_text("x")
    return target
