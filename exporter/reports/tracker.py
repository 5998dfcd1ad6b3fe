"""Which probes' *reported* status changed: the store's views decide, not raw results.

A view applies flap damping, staleness and dependency blocking, so a probe whose result goes
stale, or whose dependency turns CRITICAL, changes status without a result of its own. The
tracker remembers the last status reported per probe and, given fresh views, names the
changes. Probes without a result yet are not reported ("no result yet" is not news).
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.status import Status
from exporter.store import STALE_AFTER_INTERVALS, ProbeRecord, ProbeView


class TransitionTracker:
    def __init__(self) -> None:
        self._reported: dict[str, Status] = {}

    def changes(self, views: Sequence[ProbeView]) -> list[tuple[ProbeView, Status | None]]:
        """Views whose status differs from the one last reported, with that one (or None)."""
        changed: list[tuple[ProbeView, Status | None]] = []
        present = set()
        for view in views:
            present.add(view.name)
            if view.state.status is None:
                continue
            previous = self._reported.get(view.name)
            if previous is view.status:
                continue
            self._reported[view.name] = view.status
            changed.append((view, previous))
        for gone in self._reported.keys() - present:
            del self._reported[gone]
        return changed


def may_change_views(before: ProbeRecord, after: ProbeRecord) -> bool:
    """Whether a new result can change any probe's view, so that views are worth computing.

    A result that keeps the damped status of a probe that was not stale changes nothing: not
    its own view, and not those of probes depending on it. Skipping those keeps the cost of
    reports off the steady state (500 probes every 15 s).
    """
    if before.status is None or before.status != after.status:
        return True
    age = after.finished_at - before.finished_at
    return age > STALE_AFTER_INTERVALS * before.spec.interval
