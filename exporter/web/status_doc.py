"""``/status``: every probe's latest result as JSON, and the site's recent transitions
(``history``, exporter/web/history_doc.py), filtered by ``?probe=`` and ``?status=``.

Its cost is bounded whatever the request rate: a rendering is reused for 20 times as long as it
took (at most ``STATUS_MAX_AGE``), concurrent requests wait for the one render in progress and
share it, and each probe is its own JSON fragment, so a filtered answer only joins the fragments
it keeps. With 10,000 probes a render costs about 0.1 s of CPU and the snapshot a few MiB, once
a second at most; with ten probes every request gets a fresh one.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs

from exporter.config import Site
from exporter.history import SITE, History
from exporter.schedule.announce import opening_document
from exporter.status import Status
from exporter.store import ProbeView, site_status
from exporter.web.history_doc import change_document, history_head

#: A /status answer shows results at most this old (seconds).
STATUS_MAX_AGE = 1.0
#: A rendering is reused for this many times as long as it took to make (up to the max age).
REUSE_FACTOR = 20
STATUS_FORMAT = "application/json"
# ASCII: a summary may hold lone surrogates (file names decoded with surrogateescape).
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))

T = TypeVar("T")


def view_document(view: ProbeView, now: float | None = None) -> dict[str, Any]:
    state = view.state
    now = time.time() if now is None else now
    return {
        "name": view.name,
        "kind": view.kind,
        "status": view.status.name,
        "code": int(view.status),
        "summary": view.summary,
        "reason": view.reason.value if view.reason else None,
        "part": view.part or None,
        "critical": state.spec.critical,
        "stale": view.stale,
        "blocked_by": view.blocked_by,
        "since": view.since,
        "status_seconds": round(max(0.0, now - view.since), 3) if view.since else None,
        "last_run": state.finished_at or None,
        "result_age_seconds": round(max(0.0, now - state.finished_at), 3)
        if state.finished_at
        else None,
        "running": view.running_since is not None,
        "running_seconds": round(max(0.0, now - view.running_since), 3)
        if view.running_since is not None
        else None,
        "duration_seconds": round(state.duration, 6) if state.raw else None,
        "interval_seconds": state.spec.interval,
        "details": view.details(),
    }


def site_document(site: Site, views: Iterable[ProbeView], now: float) -> dict[str, Any]:
    """The document's fields besides ``probes``."""
    rollup = site_status(views)
    announced = site.announced(datetime.fromtimestamp(now, UTC))
    return {
        "site": {
            "name": site.name,
            "environment": site.environment,
            "tier": site.tier,
            "profile": site.profile,
            "cluster": site.cluster,
        },
        "status": rollup.name,
        "code": int(rollup),
        "maintenance": announced.current is not None,
        #: The window the site is in (with its reason), and the next one: announced maintenance.
        "maintenance_window": opening_document(announced.current, announced.at),
        "next_maintenance": opening_document(announced.next, announced.at),
        #: The deploy freeze (``since``, ``reason``, ``by``) every later gate fails on; or null.
        "freeze": site.freeze.document() if site.freeze is not None else None,
        "generated_at": round(now, 3),
    }


class RenderedOnce(Generic[T]):
    """The latest ``render()``, reused for ``REUSE_FACTOR`` times as long as it took to make
    (at most ``max_age``), so that rendering takes at most about 1/REUSE_FACTOR of a core
    however often it is asked for: a small site's answer is fresh at every request, one of
    10,000 probes is reused for a second. Callers that find it old while a render runs wait for
    that render instead of starting their own: however many ask at once, one renders."""

    def __init__(self, render: Callable[[], T], max_age: float) -> None:
        self._render = render
        self._max_age = max_age
        #: The value and until when (monotonic) it is reused.
        self._latest: tuple[float, T] | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        latest = self._latest
        if latest is not None and time.monotonic() < latest[0]:
            return latest[1]
        with self._lock:
            latest = self._latest
            if latest is not None and time.monotonic() < latest[0]:
                return latest[1]
            started = time.monotonic()
            value = self._render()
            done = time.monotonic()
            self._latest = (done + min(self._max_age, REUSE_FACTOR * (done - started)), value)
            return value


@dataclass(frozen=True)
class StatusQuery:
    """Which probes an answer keeps: by name, and by status; None keeps all."""

    probes: frozenset[str] | None = None
    statuses: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.probes is None and self.statuses is None

    def keeps(self, name: str, status: str) -> bool:
        return (self.probes is None or name in self.probes) and (
            self.statuses is None or status in self.statuses
        )


def parse_query(query: str) -> StatusQuery:
    """``probe=a&probe=b`` or ``probe=a,b``; ``status=critical,warning`` (any case). Other
    parameters are ignored (a page may add a cache buster); an unknown status is a ValueError."""
    values = parse_qs(query, keep_blank_values=False)

    def listed(key: str) -> frozenset[str] | None:
        if key not in values:
            return None
        return frozenset(v.strip() for joined in values[key] for v in joined.split(",") if v)

    statuses = listed("status")
    if statuses is not None:
        statuses = frozenset(s.upper() for s in statuses)
        unknown = sorted(statuses - Status.__members__.keys())
        if unknown:
            known = ", ".join(Status.__members__)
            raise ValueError(f"unknown status {unknown[0][:40]!r}: use {known}")
    return StatusQuery(listed("probe"), statuses)


class StatusSnapshot:
    """One rendering of /status: the site's fields, each probe's fragment and each of the
    history's transitions as its own fragment (a filtered answer keeps the site's transitions
    and those of the probes it keeps)."""

    def __init__(
        self,
        site: Site,
        views: list[ProbeView],
        now: float | None = None,
        history: History | None = None,
    ) -> None:
        now = time.time() if now is None else now
        kept = (history if history is not None else History(started=now)).kept()
        head = _ENCODER.encode(site_document(site, views, now))
        self._prefix = (head[:-1] + ',"probes":[').encode()
        self._probes = [
            (view.name, view.status.name, _ENCODER.encode(view_document(view, now)).encode())
            for view in views
        ]
        self._history_prefix = (
            '],"history":' + _ENCODER.encode(history_head(kept, now))[:-1] + ',"changes":['
        ).encode()
        self._changes = [
            (change.subject, _ENCODER.encode(change_document(change, now)).encode())
            for change in kept.changes
        ]
        self.body = self._join(self._probes, self._changes)
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()

    def gzipped(self) -> bytes:
        """``body`` gzipped, made once (not once per client asking at the same time)."""
        with self._lock:
            if self._gzipped is None:
                self._gzipped = gzip.compress(self.body, compresslevel=1)
            return self._gzipped

    def select(self, query: StatusQuery) -> bytes:
        if query.everything:
            return self.body
        probes = [probe for probe in self._probes if query.keeps(probe[0], probe[1])]
        names = {name for name, _, _ in probes} | {SITE}
        return self._join(probes, [change for change in self._changes if change[0] in names])

    def _join(
        self, probes: list[tuple[str, str, bytes]], changes: list[tuple[str, bytes]]
    ) -> bytes:
        return b"".join(
            (
                self._prefix,
                b",".join(fragment for _, _, fragment in probes),
                self._history_prefix,
                b",".join(fragment for _, fragment in changes),
                b"]}}\n",
            )
        )
