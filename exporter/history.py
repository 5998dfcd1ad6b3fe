"""The site's recent transitions, kept in memory for the status page: the rollup's and each
probe's *reported* status (the store's views: damping, staleness and blocking included), at
most ``limit`` of them, newest first, so that "it flapped three times since 10:00" shows
without Grafana. Lost at a restart, like the rest of the page; the reports keep them for good.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from exporter.status import Status
from exporter.store import ProbeView, site_status

#: How many transitions a site keeps (probes and rollup together).
HISTORY_LIMIT = 50
#: The subject of the rollup's transitions (a probe's are its name).
SITE = ""


@dataclass(frozen=True)
class Transition:
    at: float
    #: ``SITE`` for the rollup, else the probe's name.
    subject: str
    before: Status | None
    after: Status
    summary: str = ""
    #: When the next transition of the same subject came; None while this one holds.
    ended_at: float | None = None

    def lasted(self, now: float) -> float:
        return (self.ended_at if self.ended_at is not None else now) - self.at


@dataclass(frozen=True)
class Kept:
    """What a history holds at one moment: its transitions, newest first, and from when on it
    holds every one (the exporter's start, or once some were dropped, the oldest kept)."""

    changes: list[Transition]
    since: float
    limit: int


class History:
    def __init__(self, limit: int = HISTORY_LIMIT, started: float | None = None) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._kept: deque[Transition] = deque(maxlen=limit)
        self._last: dict[str, Status] = {}
        self._started = time.time() if started is None else started
        self._dropped = False

    def observe(self, views: Sequence[ProbeView], now: float) -> None:
        """Record what changed since the last call (probes without a result are not news)."""
        current = {view.name: view for view in views if view.state.status is not None}
        changes: list[tuple[str, Status, str, float]] = []
        for name, view in current.items():
            if self._last.get(name) is not view.status:
                at = view.since if view.since is not None else now
                changes.append((name, view.status, view.summary, at))
        if current:
            rollup = site_status(current.values())
            if self._last.get(SITE) is not rollup:
                worst = [v.name for v in current.values() if v.status is rollup]
                text = ", ".join(sorted(worst)) if rollup is not Status.OK else ""
                changes.append((SITE, rollup, text, now))
        with self._lock:
            for subject, status, summary, at in sorted(changes, key=lambda c: c[3]):
                before = self._last.get(subject)
                self._end(subject, at)
                self._dropped |= len(self._kept) == self.limit
                self._kept.append(Transition(at, subject, before, status, summary))
                self._last[subject] = status
            for gone in self._last.keys() - current.keys() - {SITE}:
                del self._last[gone]

    def _end(self, subject: str, at: float) -> None:
        for n in range(len(self._kept) - 1, -1, -1):
            kept = self._kept[n]
            if kept.subject == subject:
                if kept.ended_at is None:
                    self._kept[n] = Transition(
                        kept.at, kept.subject, kept.before, kept.after, kept.summary, at
                    )
                return

    def recent(self) -> list[Transition]:
        """Newest first."""
        return self.kept().changes

    def kept(self) -> Kept:
        with self._lock:
            changes = list(reversed(self._kept))
            oldest = changes[-1].at if changes else self._started
            since = oldest if self._dropped else min(self._started, oldest)
            return Kept(changes, since, self.limit)
