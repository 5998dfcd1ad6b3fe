"""One default spool per site, and the shared one of earlier versions emptied site by site.

Three sites on one machine (plain servers run an exporter per site) used to share
``loki-spool`` in the state directory. Each exporter now takes out its own site's reports and
leaves the others for theirs; two of them starting at once take turns on the directory's lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import pytest

from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings, Reports
from exporter.reports.loki.sink import LokiSink
from exporter.reports.loki.spool import Spool
from exporter.reports.loki.takeover import take_over_site
from exporter.reports.schema import Report
from exporter.reports.stats import ReportStats
from tests.loki.conftest import eventually, running, transition
from tests.support.loki_double import LokiDouble
from tests.support.reports import validate_report

SITES = ("shop", "blog", "wiki site")


def report_of(site: str, probe: str) -> Report:
    report = transition(probe)
    report["site"] = {**report["site"], "name": site}
    validate_report(report)
    return report


def sink_of(site: str, url: str) -> LokiSink:
    """A site's Loki sink with the default spool directory, as ``site-status run`` builds it."""
    settings: dict[str, Any] = {"url": url, "batch_max_wait": 0.05, "min_backoff": 0.02}
    return LokiSink(LokiSettings.model_validate(settings), BlockingRunner(), ReportStats(), site)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    return tmp_path


def test_each_site_has_its_own_default_spool_and_report_file(state: Path) -> None:
    spool = LokiSettings(url="http://loki:3100").spool
    assert spool.path("shop") == state / "loki-spool-shop"
    assert spool.path("wiki site/../x") == state / "loki-spool-wiki_site_.._x"
    assert Reports().file_path("wiki site/../x") == state / "reports-wiki_site_.._x.jsonl"
    assert spool.shared_default() == state / "loki-spool"
    explicit = LokiSettings.model_validate({"url": "http://l:3100", "spool": {"directory": "/s"}})
    assert explicit.spool.path("shop") == Path("/s") and explicit.spool.shared_default() is None


async def test_the_shared_spool_of_earlier_versions_is_emptied_site_by_site(
    state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="exporter.reports.loki")
    # What an earlier version left: the three sites' reports interleaved, the first round
    # delivered (committed), the rest pending while Loki was down.
    earlier = sink_of("", "http://127.0.0.1:9")  # only for its entry(): labels and stamps
    shared = Spool(state / "loki-spool", max_bytes=64 << 20, max_queue=10_000)
    shared.open()
    expected: dict[str, list[str]] = {site: [] for site in SITES}
    for round_number in range(4):
        entries = [earlier.entry(report_of(site, f"p{round_number}")) for site in SITES]
        shared.append(entries)
        if round_number == 0:
            shared.commit(len(shared.take(1 << 20)), {})
        else:
            for site, entry in zip(SITES, entries, strict=True):
                expected[site].append(entry.line)
    shared.close()
    await earlier.aclose()

    double = LokiDouble()
    double.up()
    try:
        shop = sink_of("shop", double.url)
        async with running(shop):
            await eventually(lambda: len(double.stored()) == 3)
            await shop.submit([report_of("shop", "after")])
            await eventually(lambda: len(double.stored()) == 4)
        await shop.aclose()
        assert [e.line for e in double.stored()[:3]] == expected["shop"]
        assert (state / "loki-spool").is_dir(), "the other sites' reports are still there"
        left = Spool(state / "loki-spool", max_bytes=64 << 20, max_queue=10_000)
        left.open()
        assert sorted(r.entry.line for r in left.pending_records()) == sorted(
            expected["blog"] + expected["wiki site"]
        )
        left.close()

        async def deliver(sink: LokiSink) -> None:
            async with running(sink):
                await eventually(lambda: sink.spool.pending == 0)
            await sink.aclose()

        async with anyio.create_task_group() as group:  # both start at once
            for site in SITES[1:]:
                group.start_soon(deliver, sink_of(site, double.url))
    finally:
        double.close()

    assert not (state / "loki-spool").exists(), "emptied, then removed"
    by_site: dict[str, list[str]] = {site: [] for site in SITES}
    for pushed in double.stored():
        by_site[pushed.stream["site"]].append(pushed.line)
    assert by_site["shop"][:3] == expected["shop"] and len(by_site["shop"]) == 4
    for site in SITES[1:]:
        assert by_site[site] == expected[site], site
        assert (state / f"loki-spool-{site.replace(' ', '_')}").is_dir()
    assert not double.duplicates
    moves = [r.getMessage() for r in caplog.records if "took over" in r.getMessage()]
    assert len(moves) == 3
    assert "took over 3 report(s) of site shop" in moves[0]
    assert "6 of other sites left there for them" in moves[0]
    assert sum("now removed" in line for line in moves) == 1


def test_a_shared_spool_with_a_file_it_cannot_read_is_not_removed(state: Path) -> None:
    """That file may hold other sites' reports. A dangling symbolic link stands for another
    uid's private file: even root cannot read it, and, like that file, it can be removed."""
    earlier = sink_of("", "http://127.0.0.1:9")
    shared = Spool(state / "loki-spool", max_bytes=64 << 20, max_queue=100)
    shared.open()
    shared.append([earlier.entry(report_of("shop", "p"))])
    shared.close()
    unreadable = state / "loki-spool" / "segment-000000000009.jsonl"
    unreadable.symlink_to(state / "gone")
    own = Spool(state / "loki-spool-shop", max_bytes=64 << 20, max_queue=100)
    own.open()
    take_over_site(state / "loki-spool", own, "shop")
    assert own.pending == 1
    take_over_site(state / "loki-spool", own, "shop")
    assert own.pending == 1, "moved once"
    assert unreadable.is_symlink()
    own.close()
