"""Real reports from a real result store, and Loki sinks pointed at the protocol double."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings, Site
from exporter.probe_api import Result
from exporter.reports.loki.sink import LokiSink
from exporter.reports.schema import Report, snapshot_report, transition_report
from exporter.reports.stats import ReportStats
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from tests.support.loki_double import LokiDouble, loki_double
from tests.support.reports import validate_report

SITE = Site(name="shop", environment="prod", tier="priprod", profile="os2web")


def transition(
    probe: str = "frontpage",
    kind: str = "http",
    status: Status = Status.CRITICAL,
    previous: Status | None = Status.OK,
    observed: float | None = None,
    details: dict[str, Any] | None = None,
) -> Report:
    """A transition report built the way the exporter builds it, from a store's view."""
    store = ResultStore()
    store.configure([ProbeSpec(probe, kind, 60)])
    store.record(probe, Result(status, f"{probe} is {status.name}", details or {}), 0.01)
    view = store.views()[0]
    report = transition_report(SITE, view, previous, time.time() if observed is None else observed)
    validate_report(report)
    return report


def snapshot(probes: int = 3, observed: float | None = None) -> Report:
    store = ResultStore()
    store.configure([ProbeSpec(f"p{i}", "file", 60) for i in range(probes)])
    for i in range(probes):
        store.record(f"p{i}", Result(Status.OK, "fine"), 0.001)
    now = time.time() if observed is None else observed
    report = snapshot_report(SITE, store.views(now), "interval", now)
    validate_report(report)
    return report


@pytest.fixture
def double() -> Iterator[LokiDouble]:
    with loki_double() as running:
        yield running


SinkFactory = Callable[..., LokiSink]


@pytest.fixture
async def make_sink(tmp_path: Path) -> AsyncIterator[SinkFactory]:
    """``make_sink(url, **settings)``: a LokiSink with a spool in tmp_path (closed at the end)."""
    made: list[LokiSink] = []

    def factory(url: str, stats: ReportStats | None = None, **settings: Any) -> LokiSink:
        values: dict[str, Any] = {
            "url": url,
            "batch_max_wait": 0.05,
            "min_backoff": 0.02,
            "max_backoff": 0.2,
            "spool": {"directory": str(tmp_path / "spool")},
        }
        values.update(settings)
        sink = LokiSink(
            LokiSettings.model_validate(values), BlockingRunner(), stats or ReportStats()
        )
        made.append(sink)
        return sink

    yield factory
    for sink in made:
        await sink.aclose()


@contextlib.asynccontextmanager
async def running(sink: LokiSink) -> AsyncIterator[LokiSink]:
    """The sink opened with its push loop running; the loop is cancelled on exit."""
    await sink.open()
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(sink.run)
        yield sink
        task_group.cancel_scope.cancel()


async def eventually(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``condition()`` on the event loop until it is true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await anyio.sleep(0.01)
