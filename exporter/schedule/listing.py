"""How an opening reads to a person: ``Wed 2026-12-02 18:00-22:00 Europe/Oslo``."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from exporter.schedule.timeline import Opening, zone_of
from exporter.units import format_duration


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(zone_of(zone))


def span_text(opening: Opening) -> str:
    """``Wed 2026-12-02 18:00-22:00 Europe/Oslo``, or both dates when it ends on another day."""
    start, end = local(opening.start, opening.zone), local(opening.end, opening.zone)
    if end.date() == start.date():
        tail = f"{end:%H:%M}"
    elif end.date() == start.date() + timedelta(days=1) and end.time() == time(0, 0):
        tail = "24:00"
    else:
        tail = f"{end:%a %Y-%m-%d %H:%M}"
    return f"{start:%a %Y-%m-%d %H:%M}-{tail} {opening.zone}"


def line(opening: Opening) -> str:
    """One opening with its length, its UTC instants and its reason."""
    length = format_duration((opening.end - opening.start).total_seconds())
    text = (
        f"{span_text(opening)}  ({length}; "
        f"{opening.start:%Y-%m-%dT%H:%MZ}..{opening.end:%Y-%m-%dT%H:%MZ})"
    )
    return f"{text}  {opening.reason}" if opening.reason else text


def short(opening: Opening) -> str:
    """``Thu 15:00-17:00 Europe/Oslo``: the banner's and the gate's form (no date)."""
    start, end = local(opening.start, opening.zone), local(opening.end, opening.zone)
    return f"{start:%a %H:%M}-{end:%H:%M} {opening.zone}"
