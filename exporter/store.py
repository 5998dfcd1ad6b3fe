"""The result store: each probe's latest result, flap damping, staleness and dependencies.

Writers (the scheduler, on the event loop) replace a probe's immutable state; readers (scrapes,
on server threads) take a snapshot. Staleness and dependency blocking are decided when read, so
they are right at any moment without a timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from exporter.probe_api import Result
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
class ProbeState:
    """A probe's state after its latest run. ``status`` is the damped status."""

    spec: ProbeSpec
    raw: Result | None = None
    held: Result | None = None
    status: Status | None = None
    streak: int = 0
    streak_worse: bool = False
    finished_at: float = 0.0
    duration: float = 0.0
    #: Rendered exposition lines of this state's values, by family (see exporter.metrics).
    lines: Mapping[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class ProbeView:
    """A probe as reported at one moment."""

    state: ProbeState
    status: Status
    summary: str
    stale: bool = False
    blocked_by: str | None = None

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


def damp(state: ProbeState, result: Result) -> ProbeState:
    """The state after ``result``: the status moves only after enough results in a row."""
    if state.status is None or result.status == state.status:
        return replace(state, raw=result, held=result, status=result.status, streak=0)
    worse = result.status.worse_than(state.status)
    streak = state.streak + 1 if state.streak and state.streak_worse == worse else 1
    threshold = state.spec.failure_threshold if worse else state.spec.success_threshold
    if streak >= threshold:
        return replace(state, raw=result, held=result, status=result.status, streak=0)
    return replace(state, raw=result, streak=streak, streak_worse=worse)


def view_all(states: Iterable[ProbeState], now: float) -> list[ProbeView]:
    """Views in config order, with staleness and dependency blocking applied."""
    views: dict[str, ProbeView] = {}
    pending = list(states)
    by_name = {state.spec.name: state for state in pending}
    # Dependencies first; cycles are rejected by config validation, missing ones ignored.
    for state in pending:
        _view_with_dependencies(state, by_name, views, now)
    return [views[state.spec.name] for state in pending]


def _view_with_dependencies(
    state: ProbeState, by_name: Mapping[str, ProbeState], views: dict[str, ProbeView], now: float
) -> ProbeView:
    known = views.get(state.spec.name)
    if known is not None:
        return known
    view = _own_view(state, now)
    if view.status is not Status.OK:
        for dependency in state.spec.depends_on:
            dependency_state = by_name.get(dependency)
            if dependency_state is None:
                continue
            upstream = _view_with_dependencies(dependency_state, by_name, views, now)
            if upstream.status is Status.CRITICAL or upstream.blocked_by:
                view = replace(
                    view,
                    status=Status.UNKNOWN,
                    blocked_by=dependency,
                    summary=f"blocked by {dependency}: {view.summary}",
                )
                break
    views[state.spec.name] = view
    return view


def _own_view(state: ProbeState, now: float) -> ProbeView:
    if state.status is None or state.held is None:
        return ProbeView(state, Status.UNKNOWN, "no result yet")
    age = now - state.finished_at
    if age > STALE_AFTER_INTERVALS * state.spec.interval:
        return ProbeView(
            state, Status.UNKNOWN, f"stale: last result is {format_duration(age)} old", stale=True
        )
    return ProbeView(state, state.status, state.held.summary)


def site_status(views: Iterable[ProbeView]) -> Status:
    return worst(view.rollup_status for view in views)


class ResultStore:
    """Probe states by name, in config order; safe to read from other threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, ProbeState] = {}

    def configure(self, specs: Iterable[ProbeSpec]) -> None:
        """Keep the states of probes whose spec is unchanged; drop the others."""
        with self._lock:
            old = self._states
            self._states = {
                spec.name: old[spec.name]
                if spec.name in old and old[spec.name].spec == spec
                else ProbeState(spec)
                for spec in specs
            }

    def record(
        self,
        name: str,
        result: Result,
        duration: float,
        finished_at: float | None = None,
        render: Any = None,
    ) -> tuple[ProbeState, ProbeState] | None:
        """Store a result; return (before, after), or None if the probe is no longer configured."""
        with self._lock:
            before = self._states.get(name)
            if before is None:
                return None
            after = replace(
                damp(before, result),
                duration=duration,
                finished_at=time.time() if finished_at is None else finished_at,
            )
            if render is not None:
                after = replace(after, lines=render(after))
            self._states[name] = after
            return before, after

    def states(self) -> list[ProbeState]:
        with self._lock:
            return list(self._states.values())

    def views(self, now: float | None = None) -> list[ProbeView]:
        return view_all(self.states(), time.time() if now is None else now)
