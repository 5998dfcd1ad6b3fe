"""Announced maintenance: the window a site is in now and the next one, with their reasons, as
``/status``, the status page, the metrics and the reports show them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.schedule import timeline
from exporter.schedule.listing import short
from exporter.schedule.timeline import Opening, Timed

#: A reason is operator-written text; where it becomes a label or a banner it is cut here.
MAX_REASON = 100


@dataclass(frozen=True)
class Announcement:
    current: Opening | None
    next: Opening | None
    at: datetime


def announce(windows: Sequence[Timed], moment: datetime) -> Announcement:
    if not windows:
        return Announcement(None, None, moment)
    upcoming = timeline.upcoming(windows, moment, count=1)
    following = upcoming[0] if upcoming else None
    return Announcement(timeline.current(windows, moment), following, moment)


def reason_of(opening: Opening) -> str:
    return " ".join(opening.reason.split())[:MAX_REASON]


def opening_document(opening: Opening | None, now: datetime) -> dict[str, Any] | None:
    """``{start, end, zone, reason, text}``; ``text`` is ``Thu 15:00-17:00 Europe/Oslo``."""
    if opening is None:
        return None
    return {
        "start": opening.start.isoformat().replace("+00:00", "Z"),
        "end": opening.end.isoformat().replace("+00:00", "Z"),
        "zone": opening.zone,
        "reason": reason_of(opening),
        "text": short(opening, now),
    }
