"""Reports: transitions and snapshots from the store's views, handed to the configured sinks.

Sinks: the Loki pusher when ``reports.loki`` is set, the JSONL file otherwise (or as well, when
``reports.file`` is given explicitly). A reload that changes ``reports`` closes the old sinks
(a Loki spool keeps what is pending) and opens the new ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import anyio

from exporter.blocking import BlockingRunner
from exporter.config import Reports, Site
from exporter.history import History
from exporter.reports.file import JsonlReportSink
from exporter.reports.schema import Report, Trigger, snapshot_report, transition_report
from exporter.reports.stats import ReportStats
from exporter.reports.tracker import TransitionTracker, may_change_views
from exporter.store import ProbeRecord, ResultStore

log = logging.getLogger(__name__)

#: Staleness comes with no event of its own: the views are checked this often.
VIEW_CHECK_INTERVAL = 1.0
#: A reload that replaces the sinks lets the old ones push what they hold for this long.
RECONFIGURE_FLUSH_SECONDS = 1.0
#: The first snapshot once the probes have had a moment to report (or sooner).
FIRST_SNAPSHOT_AFTER = 10.0


class ReportSink(Protocol):
    async def open(self) -> None: ...

    async def submit(self, reports: Sequence[Report]) -> None: ...

    async def run(self) -> None: ...

    async def flush(self, timeout: float) -> None: ...

    async def aclose(self) -> None: ...


def build_sinks(
    config: Reports, blocking: BlockingRunner, stats: ReportStats, site: str = ""
) -> list[ReportSink]:
    sinks: list[ReportSink] = []
    if config.loki is not None:
        # Imported here: an exporter without Loki never loads the pusher.
        from exporter.reports.loki.sink import LokiSink

        sinks.append(LokiSink(config.loki, blocking, stats, site))
    if config.writes_file():
        sinks.append(JsonlReportSink(config, blocking, stats, site))
    return sinks


class Reporting:
    def __init__(
        self,
        config: Reports,
        site: Callable[[], Site],
        store: ResultStore,
        blocking: BlockingRunner,
        stats: ReportStats,
        history: History | None = None,
    ) -> None:
        self.config = config
        self.history = history
        self.site = site
        self.store = store
        self.blocking = blocking
        self.stats = stats
        self.tracker = TransitionTracker()
        self.sinks = build_sinks(config, blocking, stats, site().name)
        self._lock = anyio.Lock()
        self._wanted: Reports | None = None
        self._swap = anyio.Event()
        #: Set at shutdown: once the probes stop running, their results would go stale, and
        #: that is not news to report.
        self._stopping = False

    async def open(self) -> None:
        for sink in self.sinks:
            await sink.open()

    async def run(self) -> None:
        """Run the sinks' loops, the view checks and the snapshots until cancelled."""
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self._check_views_periodically)
            task_group.start_soon(self._snapshots)
            while True:
                async with anyio.create_task_group() as sink_group:
                    for sink in self.sinks:
                        sink_group.start_soon(sink.run)
                    await self._swap.wait()
                    # What the old sinks have queued goes out first, briefly; a Loki spool
                    # keeps the rest for the new sink.
                    with anyio.move_on_after(RECONFIGURE_FLUSH_SECONDS):
                        for sink in self.sinks:
                            await sink.flush(RECONFIGURE_FLUSH_SECONDS)
                    sink_group.cancel_scope.cancel()
                await self._apply_new_config()

    def reconfigure(self, config: Reports) -> None:
        """Use ``config`` from now on (the swap happens in ``run``)."""
        if config != self.config:
            self._wanted = config
            self._swap.set()

    async def _apply_new_config(self) -> None:
        async with self._lock:
            self._swap = anyio.Event()
            if self._wanted is None:
                return
            for sink in self.sinks:
                await sink.aclose()
            self.config, self._wanted = self._wanted, None
            self.sinks = build_sinks(self.config, self.blocking, self.stats, self.site().name)
            for sink in self.sinks:
                await sink.open()
            log.info("report sinks reconfigured")

    async def submit(self, reports: Sequence[Report]) -> None:
        # Shielded: a report goes to every sink or to none, also when shutdown cancels the
        # probe run that made it (each sink bounds its own write).
        with anyio.CancelScope(shield=True):
            async with self._lock:
                for sink in self.sinks:
                    await sink.submit(reports)

    async def on_result(self, before: ProbeRecord, after: ProbeRecord) -> None:
        """Called by the scheduler after each recorded result."""
        # At once, not gathered for later: two quick changes of one probe are two reports.
        if may_change_views(before, after):
            await self.check_views()

    async def check_views(self, now: float | None = None) -> None:
        """Report every probe whose reported status changed (own result, staleness, blocking)."""
        if self._stopping:
            return
        moment = time.time() if now is None else now
        views = self.store.views(moment)
        if self.history is not None:
            self.history.observe(views, moment)
        changes = self.tracker.changes(views)
        if not changes:
            return
        site = self.site()
        reports = []
        for view, previous in changes:
            from_result = not view.stale and not view.blocked_by
            observed = view.state.finished_at if from_result else moment
            reports.append(transition_report(site, view, previous, observed))
        await self.submit(reports)

    async def snapshot(self, trigger: Trigger) -> None:
        now = time.time()
        await self.submit([snapshot_report(self.site(), self.store.views(now), trigger, now)])

    async def _check_views_periodically(self) -> None:
        while True:
            await anyio.sleep(VIEW_CHECK_INTERVAL)
            try:
                await self.check_views()
            except Exception:  # a report that cannot be built must not stop the others
                log.exception("checking probe views for reports failed")

    async def _snapshots(self) -> None:
        await anyio.sleep(min(FIRST_SNAPSHOT_AFTER, self.config.snapshot_interval))
        trigger: Trigger = "startup"
        while True:
            await self.snapshot(trigger)
            trigger = "interval"
            await anyio.sleep(self.config.snapshot_interval)

    def flush_timeout(self) -> float:
        return self.config.loki.flush_timeout if self.config.loki is not None else 0.0

    async def shutdown(self) -> None:
        """The final snapshot, then what is queued, within the configured flush timeout."""
        self._stopping = True
        await self.snapshot("shutdown")
        for sink in self.sinks:
            await sink.flush(self.flush_timeout())

    async def aclose(self) -> None:
        for sink in self.sinks:
            await sink.aclose()
