"""One schedule rule, and the instants it is open on a given local date.

A rule is matched against its zone's calendar (which dates) and opened on its wall clock
(which hours). Daylight saving follows from that: ``thu 10:00-15:00 Europe/Oslo`` is 08:00 UTC
in summer and 09:00 UTC in winter. Two edges are decided once, here:

- a wall-clock time that a spring-forward skips (02:30 on the night clocks jump from 02:00 to
  03:00) is reached at the jump: the clock first shows a time at or after it then;
- a wall-clock time that a fall-back shows twice is its first showing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MIDNIGHT = time(0, 0)


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message says why in one line."""


class Kind(enum.Enum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"  # by day of the month
    NTH_WEEKDAY = "nth-weekday"  # first wed, last fri
    DATES = "dates"  # a dated one-off, or a run of dates


@dataclass(frozen=True)
class Rule:
    """Open on the dates it matches, from ``start`` to ``end`` wall-clock time in ``zone``.

    An ``end`` that is not after ``start`` runs past midnight into the next day; ``start ==
    end == 00:00`` (a spec without hours) is the whole day. A ``blackout`` rule closes whatever
    the other rules open."""

    text: str
    kind: Kind
    start: time
    end: time
    zone: str = "UTC"
    blackout: bool = False
    reason: str = ""
    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    monthdays: frozenset[int] = frozenset()  # 1..31
    nth: int = 0  # 1..5, or -1 for the last
    weekday: int = 0
    first_date: date | None = None
    last_date: date | None = None
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tz", ZoneInfo(self.zone))

    @property
    def whole_day(self) -> bool:
        return self.start == self.end == MIDNIGHT

    def matches(self, day: date) -> bool:
        """Whether the window opens on this local date."""
        if self.kind is Kind.WEEKLY:
            return day.weekday() in self.weekdays
        if self.kind is Kind.MONTHLY:
            return day.day in self.monthdays
        if self.kind is Kind.NTH_WEEKDAY:
            if day.weekday() != self.weekday:
                return False
            if self.nth == -1:
                return (day + timedelta(days=7)).month != day.month
            return (day.day - 1) // 7 + 1 == self.nth
        assert self.first_date is not None and self.last_date is not None
        return self.first_date <= day <= self.last_date

    def interval_on(self, day: date) -> tuple[datetime, datetime]:
        """The UTC instants the window opens and closes when it opens on local ``day``."""
        end_day = day + timedelta(days=1) if self.end <= self.start else day
        return wall_to_utc(day, self.start, self.tz), wall_to_utc(end_day, self.end, self.tz)

    def intervals(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """Every opening that overlaps ``[since, until)``, in order."""
        first = since.astimezone(self.tz).date() - timedelta(days=1)
        last = until.astimezone(self.tz).date()
        found = []
        day = first
        while day <= last:
            if self.matches(day):
                start, end = self.interval_on(day)
                if start < until and end > since:
                    found.append((start, end))
            day += timedelta(days=1)
        return found


@lru_cache(maxsize=4096)
def wall_to_utc(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The instant the wall clock in ``zone`` first shows ``clock`` on ``day`` (or, in a
    spring-forward gap, the jump itself)."""
    local = datetime.combine(day, clock, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In the gap: fold=1 reads it with the offset after the jump, so it lies before the jump;
    # fold=0 with the offset before, after it. Bisect to the jump, to the second.
    low, high = local.replace(fold=1).astimezone(UTC), instant
    after = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
