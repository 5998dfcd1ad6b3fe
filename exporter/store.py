"""The result store: each probe's latest result, flap damping, staleness and dependencies.

Writers (the scheduler, on the event loop) replace a probe's immutable state; readers (scrapes,
on server threads) take a snapshot. Staleness and dependency blocking are decided when read, so
they are right at any moment without a timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from exporter.probe_api import Result
from exporter.reasons import Reason
from exporter.status import Status, worst
from exporter.units import format_duration

#: A result older than this many intervals is reported as UNKNOWN "stale".
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """What the store needs to know of a probe's config."""

    name: str
    kind: str
    interval: float
    critical: bool = True
    depends_on: tuple[str, ...] = ()
    failure_threshold: int = 1
    success_threshold: int = 1


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """A probe's state after its latest run. ``status`` is the damped status."""

    spec: ProbeSpec
    raw: Result | None = None
    held: Result | None = None
    status: Status | None = None
    streak: int = 0
    streak_worse: bool = False
    finished_at: float = 0.0
    duration: float = 0.0
    #: When ``status`` became what it is (unix time; 0 before the first result).
    status_since: float = 0.0


@dataclass(slots=True)
class ProbeView:
    """A probe as reported at one moment (not frozen: scrapes build hundreds of these)."""

    state: ProbeRecord
    status: Status
    summary: str
    stale: bool = False
    blocked_by: str | None = None
    #: When the run in progress started (unix time); its result is not in yet, the last one
    #: is still reported (with its age).
    running_since: float | None = None
    #: Since when (unix time) the probe has been reported with ``status``, if known.
    since: float | None = None
    #: Why it is not OK (None while OK), and the bounded name of what failed ("" if none).
    reason: Reason | None = None
    part: str = ""

    @property
    def name(self) -> str:
        return self.state.spec.name

    @property
    def kind(self) -> str:
        return self.state.spec.kind

    @property
    def rollup_status(self) -> Status:
        """What this probe contributes to the site: ``critical: false`` caps it at WARNING."""
        return self.status if self.state.spec.critical else self.status.capped(Status.WARNING)

    def details(self) -> dict[str, Any]:
        state = self.state
        details: dict[str, Any] = dict(state.held.details) if state.held else {}
        if state.raw is not None and (state.raw is not state.held or self.status != state.status):
            details["raw"] = {
                "status": state.raw.status.name,
                "summary": state.raw.summary,
                "details": dict(state.raw.details),
            }
            if state.streak:
                threshold = (
                    state.spec.failure_threshold
                    if state.streak_worse
                    else state.spec.success_threshold
                )
                details["raw"]["streak"] = f"{state.streak}/{threshold}"
        return details


def damp(state: ProbeRecord, result: Result) -> ProbeRecord:
    """The state after ``result``: the status moves only after enough results in a row."""
    if state.status is None or result.status == state.status:
        return replace(state, raw=result, held=result, status=result.status, streak=0)
    worse = result.status.worse_than(state.status)
    streak = state.streak + 1 if state.streak and state.streak_worse == worse else 1
    threshold = state.spec.failure_threshold if worse else state.spec.success_threshold
    if streak >= threshold:
        return replace(state, raw=result, held=result, status=result.status, streak=0)
    return replace(state, raw=result, streak=streak, streak_worse=worse)


def view_all(states: Sequence[ProbeRecord], now: float) -> list[ProbeView]:
    """Views in config order, with staleness and dependency blocking applied."""
    views = {state.spec.name: _own_view(state, now) for state in states}
    for state in states:
        if state.spec.depends_on:
            _block_by_dependencies(views[state.spec.name], views, set())
    return list(views.values())


def _block_by_dependencies(view: ProbeView, views: Mapping[str, ProbeView], seen: set[str]) -> None:
    """Make ``view`` UNKNOWN "blocked by X" while a dependency X is CRITICAL or blocked."""
    if view.status is Status.OK or view.blocked_by or view.name in seen:
        return
    seen.add(view.name)  # cycles are rejected by config validation; this only guards
    for dependency in view.state.spec.depends_on:
        upstream = views.get(dependency)
        if upstream is None:
            continue
        if upstream.state.spec.depends_on:
            _block_by_dependencies(upstream, views, seen)
        if upstream.status is Status.CRITICAL or upstream.blocked_by:
            view.status = Status.UNKNOWN
            view.blocked_by = dependency
            # Blocked since both held: its own status and its dependency's.
            view.since = max(view.since or 0.0, upstream.since or 0.0) or None
            view.summary = f"blocked by {dependency}: {view.summary}"
            view.reason, view.part = Reason.BLOCKED, dependency
            return


def _own_view(state: ProbeRecord, now: float) -> ProbeView:
    if state.status is None or state.held is None:
        return ProbeView(state, Status.UNKNOWN, "no result yet", reason=Reason.PENDING)
    age = now - state.finished_at
    if age > STALE_AFTER_INTERVALS * state.spec.interval:
        summary = f"stale: last result is {format_duration(age)} old"
        since = state.finished_at + STALE_AFTER_INTERVALS * state.spec.interval
        return ProbeView(
            state, Status.UNKNOWN, summary, stale=True, since=since, reason=Reason.STALE
        )
    held = state.held  # flap damping holds a result with the held status
    reason = held.why
    return ProbeView(
        state,
        state.status,
        held.summary,
        since=state.status_since or None,
        reason=reason,
        part=held.part if reason is not None else "",
    )


def site_status(views: Iterable[ProbeView]) -> Status:
    return worst(view.rollup_status for view in views)


class ResultStore:
    """Probe states by name, in config order; safe to read from other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, ProbeRecord] = {}
        #: Probes with a run in progress, and since when (unix time).
        self._running: dict[str, float] = {}
        #: Counts every change, so that a reader can tell whether what it rendered still holds.
        self.generation = 0

    def configure(self, specs: Iterable[ProbeSpec]) -> None:
        """Keep the states of probes whose spec is unchanged; drop the others."""
        with self._lock:
            old = self._states
            self._states = {
                spec.name: old[spec.name]
                if spec.name in old and old[spec.name].spec == spec
                else ProbeRecord(spec)
                for spec in specs
            }
            self._running = {n: t for n, t in self._running.items() if n in self._states}
            self.generation += 1

    def run_started(self, name: str, at: float | None = None) -> None:
        """A run of ``name`` began: views say so until its result is recorded."""
        with self._lock:
            if name in self._states:
                self._running[name] = time.time() if at is None else at
                self.generation += 1

    def run_ended(self, name: str) -> None:
        """A run ended without a result (cancelled); ``record`` ends it too."""
        with self._lock:
            if self._running.pop(name, None) is not None:
                self.generation += 1

    def record(
        self,
        name: str,
        result: Result,
        duration: float,
        finished_at: float | None = None,
    ) -> tuple[ProbeRecord, ProbeRecord] | None:
        """Store a result; return (before, after), or None if the probe is no longer configured."""
        with self._lock:
            before = self._states.get(name)
            if before is None:
                return None
            finished = time.time() if finished_at is None else finished_at
            damped = damp(before, result)
            since = before.status_since if damped.status == before.status else finished
            after = replace(damped, duration=duration, finished_at=finished, status_since=since)
            self._states[name] = after
            self._running.pop(name, None)
            self.generation += 1
            return before, after

    def states(self) -> list[ProbeRecord]:
        with self._lock:
            return list(self._states.values())

    def views(self, now: float | None = None) -> list[ProbeView]:
        with self._lock:
            states, running = list(self._states.values()), dict(self._running)
        views = view_all(states, time.time() if now is None else now)
        for view in views:
            view.running_since = running.get(view.name)
        return views
