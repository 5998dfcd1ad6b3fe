"""Transitions come from the store's views: own results, staleness and blocked dependencies."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from exporter.blocking import BlockingRunner
from exporter.config import Reports, Site
from exporter.probe_api import Result
from exporter.reports.schema import LOKI_MAX_LINE_BYTES, Report, encode, snapshot_report
from exporter.reports.service import Reporting
from exporter.reports.stats import ReportStats
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from tests.loki.conftest import eventually
from tests.support.loki_double import loki_double
from tests.support.reports import validate_report

SITE = Site(name="shop", environment="prod", tier="flexprod", profile="os2web")


class Recorder:
    def __init__(self) -> None:
        self.reports: list[Report] = []

    async def submit(self, reports: Sequence[Report]) -> None:
        for report in reports:
            validate_report(report)
        self.reports += reports


def reporting(store: ResultStore, tmp_path: Path) -> tuple[Reporting, Recorder]:
    config = Reports(file=str(tmp_path / "reports.jsonl"))
    service = Reporting(config, lambda: SITE, store, BlockingRunner(), ReportStats())
    recorder = Recorder()
    service.submit = recorder.submit  # type: ignore[method-assign]
    return service, recorder


async def record(
    service: Reporting, store: ResultStore, name: str, status: Status, at: float
) -> None:
    change = store.record(name, Result(status, f"{name} {status.name}", {"n": 1}), 0.5, at)
    assert change is not None
    await service.on_result(*change)


async def test_results_staleness_and_blocking_are_transitions(tmp_path: Path) -> None:
    store = ResultStore()
    store.configure(
        [ProbeSpec("nfs", "mount", 10), ProbeSpec("files", "file", 10, depends_on=("nfs",))]
    )
    service, recorder = reporting(store, tmp_path)
    now = time.time()
    await record(service, store, "nfs", Status.OK, now)
    await record(service, store, "files", Status.WARNING, now)
    await record(service, store, "files", Status.WARNING, now + 1)  # no change, no report
    assert [(r["probe"]["name"], r["previous_status"], r["status"]) for r in recorder.reports] == [
        ("nfs", None, "OK"),
        ("files", None, "WARNING"),
    ]
    recorder.reports.clear()
    # nfs turns CRITICAL: files is blocked by it without a result of its own.
    await record(service, store, "nfs", Status.CRITICAL, now + 2)
    assert [
        (r["probe"]["name"], r["status"], r["cause"], r["blocked_by"]) for r in recorder.reports
    ] == [
        ("nfs", "CRITICAL", "result", None),
        ("files", "UNKNOWN", "blocked", "nfs"),
    ]
    assert recorder.reports[1]["summary"].startswith("blocked by nfs")
    recorder.reports.clear()
    # Nothing runs for 3 intervals: both go stale (files was blocked, now it is stale itself).
    await service.check_views(now + 40)
    stale = {r["probe"]["name"]: r for r in recorder.reports}
    assert stale["nfs"]["status"] == "UNKNOWN" and stale["nfs"]["cause"] == "stale"
    assert stale["nfs"]["previous_status"] == "CRITICAL"
    assert "stale" in stale["nfs"]["summary"]
    await service.check_views(now + 41)
    assert len(recorder.reports) == len(stale), "a status is reported once"


async def test_probes_stopped_by_shutdown_are_not_reported_stale(tmp_path: Path) -> None:
    store = ResultStore()
    store.configure([ProbeSpec("quick", "file", 0.1)])
    service, recorder = reporting(store, tmp_path)
    await record(service, store, "quick", Status.OK, time.time())
    await service.shutdown()
    await service.check_views(time.time() + 60)
    assert [r["report_type"] for r in recorder.reports] == ["transition", "snapshot"]
    assert recorder.reports[-1]["trigger"] == "shutdown"


async def test_snapshots_carry_every_probe(tmp_path: Path) -> None:
    store = ResultStore()
    store.configure([ProbeSpec(f"p{i}", "file", 60) for i in range(4)])
    service, recorder = reporting(store, tmp_path)
    await record(service, store, "p0", Status.CRITICAL, time.time())
    await service.snapshot("interval")
    snapshot = recorder.reports[-1]
    assert snapshot["report_type"] == "snapshot"
    assert snapshot["status"] == "CRITICAL"
    assert [p["status"] for p in snapshot["probes"]] == [
        "CRITICAL",
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",
    ]
    assert snapshot["summary"].startswith("4 of 4 probe(s) not OK")


def test_oversized_lines_are_trimmed_and_say_so() -> None:
    store = ResultStore()
    store.configure([ProbeSpec(f"probe-{i:05d}", "file", 60) for i in range(3000)])
    for i in range(3000):
        store.record(f"probe-{i:05d}", Result(Status.OK, "fine " * 40), 0.001)
    report = snapshot_report(SITE, store.views(), "interval", time.time())
    line = encode(report)
    assert len(line.encode()) <= LOKI_MAX_LINE_BYTES
    trimmed = json.loads(line)
    validate_report(trimmed)
    assert trimmed["truncated"] is True
    assert "probe summaries removed" in trimmed["truncated_reason"]
    assert len(trimmed["probes"]) == 3000

    store = ResultStore()
    store.configure([ProbeSpec("big", "http", 60)])
    store.record(
        "big", Result(Status.CRITICAL, "huge", {f"k{i}": "v" * 100 for i in range(400)}), 1
    )
    from exporter.reports.schema import transition_report

    report = transition_report(SITE, store.views()[0], Status.OK, time.time())
    validate_report(report)
    assert report["truncated"] is True and "cut to 16384" in report["truncated_reason"]
    small = json.loads(encode(report, max_bytes=8192))
    validate_report(small)
    assert small["details"] == {} and "details removed" in small["truncated_reason"]


async def test_a_reload_moves_reports_from_the_file_to_loki(tmp_path: Path) -> None:
    store = ResultStore()
    store.configure([ProbeSpec("p", "file", 60)])
    stats = ReportStats()
    file_config = Reports(file=str(tmp_path / "reports.jsonl"))
    service = Reporting(file_config, lambda: SITE, store, BlockingRunner(), stats)
    with loki_double() as double:
        await service.open()
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(service.run)
            await service.snapshot("startup")
            loki = {
                "url": double.url,
                "batch_max_wait": 0.01,
                "spool": {"directory": str(tmp_path)},
            }
            service.reconfigure(Reports.model_validate({"loki": loki}))
            await eventually(lambda: [type(s).__name__ for s in service.sinks] == ["LokiSink"])
            await service.snapshot("interval")
            await eventually(lambda: len(double.stored()) == 1)
            task_group.cancel_scope.cancel()
        await service.aclose()
    lines = [json.loads(line) for line in (tmp_path / "reports.jsonl").read_text().splitlines()]
    assert [line["trigger"] for line in lines] == ["startup"]
    assert double.stored()[0].report()["trigger"] == "interval"
    assert stats.written == {"snapshot": 2}


async def snapshot_of(name: str) -> None:
    store = ResultStore()
    store.configure([ProbeSpec("p", "file", 60)])
    site = Site(name=name)
    service = Reporting(Reports(), lambda: site, store, BlockingRunner(), ReportStats())
    await service.snapshot("startup")
    await service.aclose()


def test_by_default_reports_of_different_sites_never_share_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two exporters as root on one machine both defaulted to /var/lib/site-status/reports.jsonl
    # and mixed their sites' reports in it (issue 27).
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    for name in ("shop", "campus/library"):
        anyio.run(snapshot_of, name)
    files = sorted(tmp_path.iterdir())
    assert [path.name for path in files] == ["reports-campus_library.jsonl", "reports-shop.jsonl"]
    for path, name in zip(files, ("campus/library", "shop"), strict=True):
        sites = {json.loads(line)["site"]["name"] for line in path.read_text().splitlines()}
        assert sites == {name}
