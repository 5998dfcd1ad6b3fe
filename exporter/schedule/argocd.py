"""The same windows as an Argo CD AppProject's ``spec.syncWindows``, so that Argo CD shows them
and blocks syncs outside them (manual ones too) on its own.

Argo CD reads a window as a 5-field cron ``schedule`` (its parser: minute hour day-of-month
month day-of-week), a Go ``duration`` and a ``timeZone``; ``allow`` windows open, ``deny``
windows (our blackouts) close and win. Cron has no year and no "first Wednesday" (a day of the
month and a weekday together match either), so a dated rule (``2026-12-24``, a run of dates)
and an n-th weekday are written as one dated entry per occurrence within a horizon: each of
those repeats every year in Argo CD, so the output says by when to generate it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import yaml

from exporter.schedule.grammar import parse_rule
from exporter.schedule.rules import Kind, Rule

#: Dated entries are written for occurrences this far ahead (less than a year, so that none
#: repeats in Argo CD before it is regenerated).
HORIZON = timedelta(days=90)
#: Argo CD refuses a longer description (SyncWindow.Validate).
MAX_DESCRIPTION = 255


class SyncWindowError(ValueError):
    """A spec that cannot become a sync window; one line."""


@dataclass(frozen=True)
class Generated:
    windows: list[dict[str, object]]
    #: Dated entries were written: regenerate before this date.
    regenerate_by: date | None


def _cron_weekday(python_weekday: int) -> int:
    return (python_weekday + 1) % 7  # cron: 0 is Sunday


def _minutes(start: time, end: time) -> int:
    """The wall-clock length of ``start``-``end`` (past midnight when end is not after start)."""
    length = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return length if length > 0 else length + 24 * 60


def go_duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return "".join(part for part in (f"{hours}h" if hours else "", f"{rest}m" if rest else ""))


def _numbers(values: Sequence[int]) -> str:
    return ",".join(str(value) for value in sorted(values))


def _entry(rule: Rule, schedule: str, minutes: int, applications: list[str]) -> dict[str, object]:
    description = f"site-status: {rule.text}" + (f" ({rule.reason})" if rule.reason else "")
    return {
        "kind": "deny" if rule.blackout else "allow",
        "schedule": schedule,
        "duration": go_duration(minutes),
        "timeZone": rule.zone,
        "applications": list(applications),
        "description": description[:MAX_DESCRIPTION],
    }


def _dates(rule: Rule, today: date) -> list[date]:
    return [
        day
        for offset in range(HORIZON.days + 1)
        if rule.matches(day := today + timedelta(days=offset))
    ]


def rule_windows(
    rule: Rule, today: date, applications: list[str]
) -> tuple[list[dict[str, object]], bool]:
    """The sync windows of one rule, and whether they are dated (repeat yearly in Argo CD)."""
    minutes = 24 * 60 if rule.whole_day else _minutes(rule.start, rule.end)
    at = f"{rule.start.minute} {rule.start.hour}"
    if rule.kind is Kind.WEEKLY:
        days = _numbers([_cron_weekday(day) for day in rule.weekdays])
        return [_entry(rule, f"{at} * * {days}", minutes, applications)], False
    if rule.kind is Kind.MONTHLY:
        return [
            _entry(rule, f"{at} {_numbers(list(rule.monthdays))} * *", minutes, applications)
        ], False
    if rule.kind is Kind.DATES and rule.whole_day:
        assert rule.first_date is not None and rule.last_date is not None
        if rule.last_date < today:
            return [], True
        first = rule.first_date
        length = ((rule.last_date - first).days + 1) * 24 * 60
        return [_entry(rule, f"0 0 {first.day} {first.month} *", length, applications)], True
    entries = [
        _entry(rule, f"{at} {day.day} {day.month} *", minutes, applications)
        for day in _dates(rule, today)
    ]
    return entries, True


def sync_windows(
    specs: Sequence[str], moment: datetime, applications: Sequence[str] = ("*",)
) -> Generated:
    today = moment.date()
    windows: list[dict[str, object]] = []
    dated = False
    for spec in specs:
        entries, is_dated = rule_windows(parse_rule(spec), today, list(applications))
        windows.extend(entries)
        dated = dated or is_dated
    if not any(window["kind"] == "allow" for window in windows) and any(
        not parse_rule(spec).blackout for spec in specs
    ):
        raise SyncWindowError("no window opens within the horizon: Argo CD would block every sync")
    return Generated(windows, today + HORIZON if dated else None)


def sync_windows_yaml(specs: Sequence[str], moment: datetime) -> str:
    generated = sync_windows(specs, moment)
    head = (
        "# Argo CD AppProject spec.syncWindows from: "
        + "; ".join(" ".join(spec.split()) for spec in specs)
        + "\n"
    )
    if generated.regenerate_by:
        head += (
            "# Dated entries repeat every year in Argo CD: generate again before "
            f"{generated.regenerate_by.isoformat()}\n"
        )
    return head + yaml.safe_dump({"syncWindows": generated.windows}, sort_keys=False)
