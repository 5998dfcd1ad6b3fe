"""Deploy windows on the command line: ``mon-thu 10:00-15:00 Europe/Oslo``.

The spec is the weekly maintenance window of the config written on one line: weekdays (a name,
a range ``mon-thu`` that may wrap ``fri-mon``, or a list ``mon,wed``), a wall-clock span (past
midnight when the end is not after the start), and an optional IANA time zone (default UTC).
Each weekday becomes one :class:`WeeklyWindow`, so the gate judges it exactly as maintenance is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from exporter.maintenance import WEEKDAYS, WeeklyWindow

_ABBREVIATIONS = {day[:3]: day for day in WEEKDAYS}


class WindowSpecError(ValueError):
    """A ``--window`` that cannot be read; the message says why in one line."""


def _weekday(word: str, spec: str) -> int:
    word = word.strip().lower()
    day = _ABBREVIATIONS.get(word[:3]) if len(word) >= 3 else None
    if day is None or not day.startswith(word):
        raise WindowSpecError(f"--window {spec!r}: {word!r} is not a weekday (mon, tue, ...)")
    return WEEKDAYS.index(day)


def _weekdays(text: str, spec: str) -> list[str]:
    days: list[int] = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start = _weekday(first, spec)
        if not dash:
            days.append(start)
            continue
        end = _weekday(last, spec)
        span = (end - start) % 7
        days.extend((start + offset) % 7 for offset in range(span + 1))
    return [WEEKDAYS[day] for day in dict.fromkeys(days)]


def parse_window(spec: str) -> list[WeeklyWindow]:
    """The weekly windows of one ``--window`` spec."""
    words = spec.split()
    if len(words) not in (2, 3):
        raise WindowSpecError(
            f"--window {spec!r}: expected DAYS HH:MM-HH:MM [TIMEZONE], "
            "e.g. 'mon-thu 10:00-15:00 Europe/Oslo'"
        )
    start, dash, end = words[1].partition("-")
    if not dash:
        raise WindowSpecError(f"--window {spec!r}: expected a span HH:MM-HH:MM, got {words[1]!r}")
    zone = words[2] if len(words) == 3 else "UTC"
    windows = []
    for weekday in _weekdays(words[0], spec):
        try:
            windows.append(
                WeeklyWindow.model_validate(
                    {"weekday": weekday, "start": start, "end": end, "timezone": zone}
                )
            )
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise WindowSpecError(f"--window {spec!r}: {reason}") from None
    return windows


def inside(windows: Sequence[WeeklyWindow], moment: datetime) -> bool:
    return any(window.covers(moment) for window in windows)


def next_opening(windows: Sequence[WeeklyWindow], moment: datetime) -> tuple[datetime, str]:
    """When the next window opens after ``moment``, and that instant as a person reads it
    (``Mon 10:00 Europe/Oslo``, in the window's own zone)."""
    candidates: list[tuple[datetime, WeeklyWindow]] = []
    for window in windows:
        zone = ZoneInfo(window.timezone)
        today: date = moment.astimezone(zone).date()
        for offset in range(8):
            day = today + timedelta(days=offset)
            if day.weekday() != WEEKDAYS.index(window.weekday):
                continue
            opening = datetime.combine(day, window.start, tzinfo=zone)
            if opening > moment:
                candidates.append((opening, window))
                break
    if not candidates:
        raise WindowSpecError("no deploy window opens within a week")
    opening, window = min(candidates, key=lambda candidate: candidate[0])
    return opening, f"{opening.strftime('%a %H:%M')} {window.timezone}"
