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


def short(opening: Opening, now: datetime | None = None) -> str:
    """``Thu 15:00-17:00 Europe/Oslo`` (the banner's and the gate's form): the weekday alone
    within a day and within the coming week, the date too beyond; ``until ...`` for an
    open-ended window (an annotation's maintenance-until)."""
    start, end = local(opening.start, opening.zone), local(opening.end, opening.zone)
    if opening.start.year < 2000:
        return f"until {end:%a %d %b %H:%M} {opening.zone}"
    day = "%a" if now is None or opening.start - now < timedelta(days=6) else "%a %d %b"
    if end.date() == start.date():
        return f"{start.strftime(day)} {start:%H:%M}-{end:%H:%M} {opening.zone}"
    if end - start <= timedelta(days=1):
        return f"{start.strftime(day)} {start:%H:%M}-{end:%a %H:%M} {opening.zone}"
    return f"{start:%a %d %b %H:%M}-{end:%a %d %b %H:%M} {opening.zone}"
