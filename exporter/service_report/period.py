"""The period a report covers: a calendar month or ``--from``/``--to``, in a time zone.

A period is whole minutes, [start, end): each minute is the site's state sampled at its first
instant, as the recording rules sample it (docs/alerts.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = 60


class PeriodError(ValueError):
    """A period that cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, in ``zone``
    end: datetime  # exclusive; cut to the last whole minute before now when in progress
    zone: ZoneInfo
    label: str
    #: Where the period reaches past the report's "now", the end it would have had.
    planned_end: datetime | None = None

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_s(self) -> int:
        return int(self.end.timestamp())

    @property
    def minutes(self) -> int:
        return (self.end_s - self.start_s) // MINUTE

    def local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self.zone)


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(f"unknown time zone {name!r} (an IANA name like Europe/Oslo)") from None


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_period(text: str, zone: ZoneInfo, now: datetime) -> Period:
    found = _MONTH.match(text)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise PeriodError(f"--month {text!r}: expected YYYY-MM, like 2026-11")
    year, month = int(found.group(1)), int(found.group(2))
    start = datetime(year, month, 1, tzinfo=zone)
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return _cut(start, following, zone, start.strftime("%B %Y"), now)


def _moment(flag: str, text: str, zone: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise PeriodError(
                f"{flag} {text!r}: expected a date (2026-11-01) or a time (2026-11-01T08:00)"
            ) from None
        parsed = datetime(day.year, day.month, day.day)
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)


def range_period(start_text: str, end_text: str, zone: ZoneInfo, now: datetime) -> Period:
    start, end = _moment("--from", start_text, zone), _moment("--to", end_text, zone)
    if end <= start:
        raise PeriodError(f"--to {end_text!r} is not after --from {start_text!r}")
    label = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    return _cut(start, end, zone, label, now)


def _floor_minute(moment: datetime) -> datetime:
    epoch = int(moment.timestamp()) // MINUTE * MINUTE
    return datetime.fromtimestamp(epoch, moment.tzinfo)


def _cut(start: datetime, end: datetime, zone: ZoneInfo, label: str, now: datetime) -> Period:
    start, end = _floor_minute(start), _floor_minute(end)
    current = _floor_minute(now.astimezone(zone))
    if start >= current:
        raise PeriodError(f"{label} has not begun yet")
    if end > current:
        return Period(start, current, zone, label, planned_end=end)
    return Period(start, end, zone, label)


def utc_now() -> datetime:
    return datetime.now(UTC)


def days(period: Period) -> list[date]:
    """The local dates the period touches."""
    first, last = period.start.date(), (period.end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
