"""Maintenance windows: one-off (start and end instants), weekly (a weekday's wall-clock hours),
and any schedule of the one-line grammar (``{schedule: "first wed 18:00-22:00 Europe/Oslo"}``,
exporter/schedule/grammar.py), blackouts (``except ...``) included.

A weekly window is judged in its own time zone's wall clock, so "Thursday 15:00-17:00
Europe/Oslo" is 13:00-15:00 UTC in summer and 14:00-16:00 UTC in winter. A window whose end is
not after its start runs past midnight into the next day (Saturday 22:00-02:00).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from exporter.schedule.grammar import parse_rule
from exporter.schedule.rules import Kind, Rule, ScheduleError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _clock_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 15:00 as the base-60 number 900.
        raise ValueError(f'write times in quotes, e.g. "{value // 60:02d}:{value % 60:02d}"')
    if isinstance(value, str):
        match = _CLOCK.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"expected a time as HH:MM, got {value!r}")
        return time(int(match[1]), int(match[2]))
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MaintenanceWindow(_Window):
    """A one-off window between two instants (naive times are UTC)."""

    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if _aware(self.end) <= _aware(self.start):
            raise ValueError("end must be after start")
        return self

    @property
    def blackout(self) -> bool:
        return False

    @property
    def zone(self) -> str:
        return "UTC"

    def covers(self, moment: datetime) -> bool:
        return _aware(self.start) <= moment < _aware(self.end)

    def intervals(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        start, end = _aware(self.start), _aware(self.end)
        return [(start, end)] if start < until and end > since else []


class WeeklyWindow(_Window):
    """Every week on ``weekday`` from ``start`` to ``end``, wall-clock time in ``timezone``."""

    weekday: Weekday
    start: ClockTime
    end: ClockTime
    timezone: str = "UTC"
    reason: str = ""

    @field_validator("weekday", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    _rule: Rule = PrivateAttr()

    @model_validator(mode="after")
    def _not_empty(self) -> WeeklyWindow:
        if self.start == self.end:
            raise ValueError("start and end are the same time")
        self._rule = Rule(
            text=f"{self.weekday[:3]} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}",
            kind=Kind.WEEKLY,
            start=self.start,
            end=self.end,
            zone=self.timezone,
            reason=self.reason,
            weekdays=frozenset({WEEKDAYS.index(self.weekday)}),
        )
        return self

    @property
    def blackout(self) -> bool:
        return False

    @property
    def zone(self) -> str:
        return self.timezone

    def intervals(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        return self._rule.intervals(since, until)

    def covers(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        day = WEEKDAYS.index(self.weekday)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() == day and self.start <= clock < self.end
        # Past midnight: the evening of the weekday, or the early hours of the day after.
        return (local.weekday() == day and clock >= self.start) or (
            local.weekday() == (day + 1) % 7 and clock < self.end
        )


class ScheduledWindow(_Window):
    """A window of the one-line grammar: ``{schedule: "first wed 18:00-22:00 Europe/Oslo",
    reason: releases}``, or the bare string. ``except ...`` is a blackout: no maintenance then,
    whatever the other windows say."""

    schedule: str
    reason: str = ""
    _rule: Rule = PrivateAttr()

    @model_validator(mode="after")
    def _parsed(self) -> ScheduledWindow:
        try:
            self._rule = parse_rule(self.schedule, self.reason)
        except ScheduleError as error:
            raise ValueError(str(error)) from None
        return self

    @property
    def rule(self) -> Rule:
        return self._rule

    @property
    def blackout(self) -> bool:
        return self._rule.blackout

    @property
    def zone(self) -> str:
        return self._rule.zone

    def intervals(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        return self._rule.intervals(since, until)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window_tag(value: Any) -> str:
    if isinstance(value, dict):
        if "schedule" in value:
            return "schedule"
        return "weekly" if "weekday" in value else "one-off"
    if isinstance(value, ScheduledWindow):
        return "schedule"
    return "weekly" if isinstance(value, WeeklyWindow) else "one-off"


def _bare_schedule(value: Any) -> Any:
    return {"schedule": value} if isinstance(value, str) else value


#: The tags below appear in pydantic's error locations; config error paths leave them out.
WINDOW_TAGS = frozenset({"weekly", "one-off", "schedule"})

Window = Annotated[
    Annotated[MaintenanceWindow, Tag("one-off")]
    | Annotated[WeeklyWindow, Tag("weekly")]
    | Annotated[ScheduledWindow, Tag("schedule")],
    Discriminator(_window_tag),
    BeforeValidator(_bare_schedule),
]


#: Where an open-ended window (an annotation's "until") starts.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_until(end: datetime, reason: str) -> MaintenanceWindow:
    """A window that lasts until ``end`` (a Deployment annotation's maintenance-until)."""
    return MaintenanceWindow(start=EPOCH, end=_aware(end), reason=reason)
