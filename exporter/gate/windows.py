"""Deploy windows on the command line, in the schedule grammar of exporter/schedule/grammar.py:
``mon-thu 10:00-15:00 Europe/Oslo``, ``first wed 18:00-22:00 Europe/Oslo``,
``except 2026-12-21..2027-01-03``. The gate judges them exactly as maintenance is judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from exporter.schedule import timeline
from exporter.schedule.grammar import parse_rule
from exporter.schedule.rules import Rule, ScheduleError


class WindowSpecError(ValueError):
    """A ``--window`` that cannot be read; the message says why in one line."""


def parse_window(spec: str) -> list[Rule]:
    """The rules of one ``--window`` spec (one rule; a list so that callers can add them up)."""
    try:
        return [parse_rule(spec)]
    except ScheduleError as error:
        raise WindowSpecError(f"--window {error}") from None


def inside(windows: Sequence[Rule], moment: datetime) -> bool:
    return timeline.covers(windows, moment)


def next_opening(windows: Sequence[Rule], moment: datetime) -> tuple[datetime, str]:
    """When the next window opens after ``moment``, and that instant as a person reads it
    (``Mon 10:00 Europe/Oslo``, in the window's own zone; dated when not within a week)."""
    found = timeline.upcoming(windows, moment)
    if not found:
        raise WindowSpecError("no deploy window opens within a year")
    opening = found[0]
    local = opening.start.astimezone(timeline.zone_of(opening.zone))
    shape = "%a %H:%M" if (opening.start - moment).days < 6 else "%a %Y-%m-%d %H:%M"
    return opening.start, f"{local.strftime(shape)} {opening.zone}"
