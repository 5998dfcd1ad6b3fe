"""The one-line schedule grammar, shared by ``gate --window`` and the config's ``maintenance``.

::

    [except] WHEN [HH:MM-HH:MM] [ZONE]

    WHEN:  mon-thu | fri-mon | mon,wed-thu | daily       every week on those days
           monthly 1,15                                  those days of every month
           first wed | 2nd tue | last fri                that weekday of every month
           2026-12-24 | 2026-12-21..2027-01-03           one date, or a run of dates

Without hours the rule covers whole days. Hours whose end is not after their start run past
midnight. The zone is an IANA name (default UTC). ``except`` makes a blackout: it closes what
the other rules open, whatever their order.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exporter.schedule.rules import MIDNIGHT, Kind, Rule, ScheduleError

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ORDINALS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
}
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A run of dates longer than this is a mistake (a year typed wrong), not a schedule.
MAX_DATE_RUN_DAYS = 366
EXAMPLE = "e.g. 'mon-thu 10:00-15:00 Europe/Oslo' or 'first wed 18:00-22:00 Europe/Oslo'"


def _fail(spec: str, why: str) -> ScheduleError:
    return ScheduleError(f"{spec!r}: {why}")


def weekday_of(word: str, spec: str) -> int:
    word = word.strip().lower()
    for index, name in enumerate(WEEKDAY_NAMES):
        if len(word) >= 3 and name.startswith(word):
            return index
    raise _fail(spec, f"{word!r} is not a weekday (mon, tue, ...)")


def _weekdays(text: str, spec: str) -> frozenset[int]:
    if text.lower() == "daily":
        return frozenset(range(7))
    days: list[int] = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start = weekday_of(first, spec)
        if not dash:
            days.append(start)
            continue
        span = (weekday_of(last, spec) - start) % 7
        days.extend((start + offset) % 7 for offset in range(span + 1))
    return frozenset(days)


def _monthdays(text: str, spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise _fail(
                spec, f"expected days of the month like 1,15 or 1-7, got {text!r}"
            ) from None
        if not 1 <= low <= high <= 31:
            raise _fail(spec, f"days of the month run from 1 to 31, got {part!r}")
        days.update(range(low, high + 1))
    return frozenset(days)


def _date(text: str, spec: str) -> date:
    if not _DATE.fullmatch(text):
        raise _fail(spec, f"expected a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(spec, f"{text!r} is not a date") from None


def _clock(text: str, spec: str) -> time:
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise _fail(spec, f"expected a time as HH:MM, got {text!r}")
    return time(int(match[1]), int(match[2]))


def _span(text: str, spec: str) -> tuple[time, time]:
    start, dash, end = text.partition("-")
    if not dash:
        raise _fail(spec, f"expected hours as HH:MM-HH:MM, got {text!r}")
    opens, closes = _clock(start, spec), _clock(end, spec)
    if opens == closes:
        raise _fail(spec, "start and end are the same time (leave the hours out for whole days)")
    return opens, closes


def _zone(text: str, spec: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(spec, f"unknown time zone {text!r} (use an IANA name)") from None
    return text


def parse_rule(spec: str, reason: str = "") -> Rule:
    """One rule of a schedule; :class:`ScheduleError` (one line) when it cannot be read."""
    words = spec.split()
    blackout = bool(words) and words[0].lower() == "except"
    if blackout:
        words = words[1:]
    if not words:
        raise _fail(spec, f"empty schedule; {EXAMPLE}")
    head = words[0].lower()
    fields: dict[str, Any]
    if head == "monthly":
        if len(words) < 2:
            raise _fail(spec, "expected days of the month after 'monthly', e.g. 'monthly 1,15'")
        fields = {"kind": Kind.MONTHLY, "monthdays": _monthdays(words[1], spec)}
        rest = words[2:]
    elif head in ORDINALS:
        if len(words) < 2:
            raise _fail(spec, f"expected a weekday after {words[0]!r}, e.g. 'first wed'")
        nth = ORDINALS[head]
        fields = {"kind": Kind.NTH_WEEKDAY, "nth": nth, "weekday": weekday_of(words[1], spec)}
        rest = words[2:]
    elif head[:1].isdigit():
        first, dots, last = words[0].partition("..")
        first_date = _date(first, spec)
        last_date = _date(last, spec) if dots else first_date
        if last_date < first_date:
            raise _fail(spec, f"the run of dates ends before it starts: {words[0]!r}")
        if (last_date - first_date).days >= MAX_DATE_RUN_DAYS:
            raise _fail(spec, f"a run of dates longer than a year: {words[0]!r}")
        fields = {"kind": Kind.DATES, "first_date": first_date, "last_date": last_date}
        rest = words[1:]
    else:
        fields = {"kind": Kind.WEEKLY, "weekdays": _weekdays(words[0], spec)}
        rest = words[1:]
    start = end = MIDNIGHT
    if rest and ":" in rest[0]:
        start, end = _span(rest[0], spec)
        rest = rest[1:]
    if len(rest) > 1:
        raise _fail(spec, f"unexpected {' '.join(rest[1:])!r}; {EXAMPLE}")
    zone = _zone(rest[0], spec) if rest else "UTC"
    return Rule(
        text=" ".join(spec.split()),
        start=start,
        end=end,
        zone=zone,
        blackout=blackout,
        reason=reason,
        **fields,
    )
