"""The scheduler: runs every probe on its own interval, within its timeout, a few at a time.

The runner is the one boundary that turns a probe's exception or timeout into UNKNOWN with the
reason. Runs of one probe never overlap: the next waits until the previous has finished.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from exporter.config import SiteStatusConfig, Timing
from exporter.context import ProbeRuntime, RunContext
from exporter.failure_text import secret_file_failed, timed_out
from exporter.probe_api import MetricFamily, ProbeConfig, Result
from exporter.reasons import Reason
from exporter.redact import redact_known
from exporter.registry import KindRegistry
from exporter.run_stats import RunStats
from exporter.secret_files import SecretFileError
from exporter.status import Status
from exporter.store import ProbeRecord, ProbeSpec, ResultStore

log = logging.getLogger(__name__)

#: Called after each recorded result with the states before and after it.
ResultListener = Callable[[ProbeRecord, ProbeRecord], Awaitable[None]]


def probe_spec(probe: ProbeConfig, timing: Timing) -> ProbeSpec:
    return ProbeSpec(
        name=probe.name,
        kind=probe.kind,
        interval=timing.interval,
        critical=probe.critical,
        depends_on=tuple(probe.depends_on),
        failure_threshold=probe.failure_threshold,
        success_threshold=probe.success_threshold,
    )


class ProbeRunner:
    """Runs one probe once: the boundary between probe code and the runtime."""

    def __init__(self, registry: KindRegistry, runtime: ProbeRuntime, stats: RunStats) -> None:
        self.registry = registry
        self.runtime = runtime
        self.stats = stats

    async def run(self, probe: ProbeConfig, timeout: float) -> tuple[Result, float]:
        """The probe's result and how long it took; never raises for a probe's failure."""
        kind = self.registry.get(probe.kind)
        context = RunContext(timeout, self.runtime)
        started = time.monotonic()
        self.stats.in_flight += 1
        try:
            with anyio.move_on_after(timeout) as scope:
                # A large mount table is parsed in a worker thread, never on the event loop.
                await self.runtime.mount_tables.refresh_if_stale()
                result = await kind.run(probe, context)
                _check_samples(result, kind.metrics)
            if scope.cancelled_caught:
                self.stats.errors[probe.kind, "timeout"] += 1
                failure = timed_out(timeout)
                result = Result(Status.UNKNOWN, failure.text, reason=failure.reason)
        except SecretFileError as error:  # any kind's token, password or CA file, one wording
            self.stats.errors[probe.kind, "exception"] += 1
            failure = secret_file_failed(error.path, error)
            details = {"error": type(error).__name__, "file": error.path}
            result = Result(Status.UNKNOWN, failure.text, details, reason=failure.reason)
        except Exception as error:  # a probe's failure is a result, never a crash
            self.stats.errors[probe.kind, "exception"] += 1
            log.debug("probe %s raised", probe.name, exc_info=True)
            # The message may quote what the probe sent (a URL with its password, a header).
            reason = redact_known(str(error)) or type(error).__name__
            result = Result(
                Status.UNKNOWN,
                f"probe error: {reason}",
                {"error": type(error).__name__},
                reason=Reason.ERROR,
            )
        finally:
            self.stats.in_flight -= 1
        duration = time.monotonic() - started
        self.stats.runs[probe.kind, result.status.name.lower()] += 1
        self.stats.seconds[probe.kind] = self.stats.seconds.get(probe.kind, 0.0) + duration
        return result, duration


def _check_samples(result: Result, declared: tuple[MetricFamily, ...]) -> None:
    families = {family.name: family for family in declared}
    for sample in result.samples:
        family = families.get(sample.family)
        if family is None:
            raise TypeError(f"probe returned undeclared metric {sample.family!r}")
        if len(sample.labels) != len(family.labels):
            raise TypeError(f"metric {sample.family!r} needs labels {family.labels}")


@dataclass(eq=False)
class _Scheduled:
    probe: ProbeConfig
    timing: Timing
    #: When the next run is due, before its random jitter.
    next_run: float = 0.0
    #: The scope of the run in progress, to cancel it when the probe is reconfigured.
    running: anyio.CancelScope | None = None
    removed: bool = False


#: Probes due within this of each other start together (see ``Scheduler._starts_now``) ...
BATCH_WINDOW = 0.5
#: ... if their interval is at least this: early by at most 5 % of the interval.
BATCH_MIN_INTERVAL = 20 * BATCH_WINDOW


class Scheduler:
    """One dispatcher over a heap of due times; a task exists only while a probe runs.

    (An idle task per probe would cost memory for nothing: docs/benchmarks.md.) ``apply``
    swaps configs without touching unchanged probes. Runs of one probe never overlap: the next
    run is queued only when the previous one has finished.
    """

    def __init__(
        self,
        runner: ProbeRunner,
        store: ResultStore,
        on_result: ResultListener | None = None,
    ) -> None:
        self.runner = runner
        self.store = store
        self.on_result = on_result
        self._scheduled: dict[str, _Scheduled] = {}
        self._due: list[tuple[float, int, _Scheduled]] = []
        self._sequence = itertools.count()
        self._wakeup = anyio.Event()
        self._task_group: TaskGroup | None = None
        self._limiter = anyio.CapacityLimiter(1)
        #: Set once ``run`` has started: ``apply`` works from then on.
        self.started = anyio.Event()

    async def run(self, config: SiteStatusConfig) -> None:
        """Run until cancelled."""
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            self.apply(config)
            self.started.set()
            await self._dispatch(task_group)

    def apply(self, config: SiteStatusConfig) -> None:
        if self._task_group is None:
            raise RuntimeError("the scheduler is not running")
        self._limiter.total_tokens = config.exporter.concurrency
        wanted = {probe.name: (probe, config.timing(probe)) for probe in config.probes}
        for name, scheduled in list(self._scheduled.items()):
            if wanted.get(name) != (scheduled.probe, scheduled.timing):
                scheduled.removed = True
                if scheduled.running is not None:
                    scheduled.running.cancel()
                del self._scheduled[name]
        self.store.configure(probe_spec(probe, timing) for probe, timing in wanted.values())
        now = anyio.current_time()
        for name, (probe, timing) in wanted.items():
            if name not in self._scheduled:
                # Spread the first runs so that probes (and sites) do not all start at once.
                first = now + random.uniform(0, min(timing.jitter, timing.interval))
                scheduled = _Scheduled(probe, timing, next_run=first)
                self._scheduled[name] = scheduled
                self._queue(scheduled, first)
        self._wakeup.set()

    def _queue(self, scheduled: _Scheduled, at: float) -> None:
        heapq.heappush(self._due, (at, next(self._sequence), scheduled))

    async def _dispatch(self, task_group: TaskGroup) -> None:
        while True:
            now = anyio.current_time()
            while self._due:
                due, _, scheduled = self._due[0]
                if not self._starts_now(due, scheduled, now):
                    break
                heapq.heappop(self._due)
                if scheduled.removed:
                    continue
                await self._limiter.acquire_on_behalf_of(scheduled)
                if scheduled.removed:
                    self._limiter.release_on_behalf_of(scheduled)
                    continue
                scope = scheduled.running = anyio.CancelScope()
                name = f"probe {scheduled.probe.name}"
                task_group.start_soon(self._run, scheduled, scope, name=name)
            self._wakeup = anyio.Event()
            wait = self._due[0][0] - anyio.current_time() if self._due else math.inf
            with anyio.move_on_after(wait):
                await self._wakeup.wait()

    @staticmethod
    def _starts_now(due: float, scheduled: _Scheduled, now: float) -> bool:
        """Due, or due within ``BATCH_WINDOW`` for a probe whose interval is long enough that
        starting it that much early does not matter. Probes woken together run on warm caches:
        after an idle stretch the first one's Python costs several times what the next ones'
        does, so one wake-up for a few probes costs less CPU than a wake-up each."""
        return due <= now or (
            due <= now + BATCH_WINDOW and scheduled.timing.interval >= BATCH_MIN_INTERVAL
        )

    async def _run(self, scheduled: _Scheduled, scope: anyio.CancelScope) -> None:
        probe, timing = scheduled.probe, scheduled.timing
        self.store.run_started(probe.name)
        try:
            with scope:
                result, duration = await self.runner.run(probe, timing.timeout)
                await self._record(probe.name, result, duration)
        finally:
            self.store.run_ended(probe.name)
            scheduled.running = None
            self._limiter.release_on_behalf_of(scheduled)
        if scheduled.removed:
            return
        now = anyio.current_time()
        scheduled.next_run += timing.interval
        if scheduled.next_run < now:  # a run took longer than the interval: skip, never overlap
            scheduled.next_run = now
        self._queue(scheduled, scheduled.next_run + random.uniform(0, timing.jitter))
        self._wakeup.set()

    async def _record(self, name: str, result: Result, duration: float) -> None:
        change = self.store.record(name, result, duration)
        if change is not None and self.on_result is not None:
            try:
                await self.on_result(*change)
            except Exception:
                log.exception("result listener failed for probe %s", name)


async def run_all_once(
    runner: ProbeRunner, config: SiteStatusConfig, store: ResultStore, concurrency: int
) -> None:
    """Every probe once, a few at a time (``site-status check``)."""
    store.configure(probe_spec(probe, config.timing(probe)) for probe in config.probes)
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(probe: ProbeConfig) -> None:
        async with limiter:
            result, duration = await runner.run(probe, config.timing(probe).timeout)
        store.record(probe.name, result, duration)

    try:
        async with anyio.create_task_group() as task_group:
            for probe in config.probes:
                task_group.start_soon(one, probe)
    finally:
        await runner.runtime.aclose()
