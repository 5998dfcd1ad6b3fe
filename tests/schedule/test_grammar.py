"""The schedule grammar: every form lists the right openings, across daylight saving changes.

Oslo's changes used below (tzdata): 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET) and
2027-03-28 01:00 UTC (02:00 CET -> 03:00 CEST).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exporter.schedule import timeline
from exporter.schedule.grammar import parse_rule
from exporter.schedule.rules import Kind, ScheduleError


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def starts(specs: list[str], since: str, count: int) -> list[tuple[str, str]]:
    rules = [parse_rule(spec) for spec in specs]
    return [
        (f"{o.start:%Y-%m-%dT%H:%M}", f"{o.end:%Y-%m-%dT%H:%M}")
        for o in timeline.upcoming(rules, utc(since), count=count)
    ]


def test_each_form_is_read() -> None:
    assert parse_rule("mon-thu 10:00-15:00 Europe/Oslo").weekdays == {0, 1, 2, 3}
    assert parse_rule("daily 02:00-04:00").weekdays == set(range(7))
    monthly = parse_rule("monthly 1,15-16 02:00-04:00")
    assert (monthly.kind, set(monthly.monthdays)) == (Kind.MONTHLY, {1, 15, 16})
    nth = parse_rule("first Wednesday 18:00-22:00 Europe/Oslo")
    assert (nth.kind, nth.nth, nth.weekday, nth.zone) == (Kind.NTH_WEEKDAY, 1, 2, "Europe/Oslo")
    assert parse_rule("last fri 12:00-13:00").nth == -1
    once = parse_rule("2026-12-24 08:00-12:00 Europe/Oslo")
    assert once.kind is Kind.DATES and once.first_date == once.last_date
    blackout = parse_rule("except 2026-12-21..2027-01-03 Europe/Oslo")
    assert blackout.blackout and blackout.whole_day


def test_monthly_by_date_follows_the_wall_clock_across_spring_forward() -> None:
    # 10:00 Oslo is 09:00 UTC in February, 08:00 UTC from 28 March (the change is at 01:00 UTC
    # that very day); 31 is skipped in the months without it.
    assert starts(["monthly 28,31 10:00-12:00 Europe/Oslo"], "2027-02-01T00:00", 4) == [
        ("2027-02-28T09:00", "2027-02-28T11:00"),
        ("2027-03-28T08:00", "2027-03-28T10:00"),
        ("2027-03-31T08:00", "2027-03-31T10:00"),
        ("2027-04-28T08:00", "2027-04-28T10:00"),
    ]


def test_nth_weekday_over_both_changes_lasts_what_the_clock_says() -> None:
    # The last Sunday of October and of March are the change days themselves: 01:00-04:00 on
    # the wall clock is 4 hours in October (02:00-03:00 twice) and 2 in March (skipped).
    assert starts(["last sun 01:00-04:00 Europe/Oslo"], "2026-10-01T00:00", 2) == [
        ("2026-10-24T23:00", "2026-10-25T03:00"),
        ("2026-11-29T00:00", "2026-11-29T03:00"),
    ]
    assert starts(["last sun 01:00-04:00 Europe/Oslo"], "2027-03-01T00:00", 1) == [
        ("2027-03-28T00:00", "2027-03-28T02:00"),
    ]
    # A start inside the skipped hour opens when the clocks jump.
    assert starts(["last sun 02:30-05:00 Europe/Oslo"], "2027-03-01T00:00", 1) == [
        ("2027-03-28T01:00", "2027-03-28T03:00"),
    ]


def test_first_and_fifth_weekdays() -> None:
    assert starts(["first wed 18:00-22:00 Europe/Oslo"], "2026-12-01T00:00", 3) == [
        ("2026-12-02T17:00", "2026-12-02T21:00"),
        ("2027-01-06T17:00", "2027-01-06T21:00"),
        ("2027-02-03T17:00", "2027-02-03T21:00"),
    ]
    # Only months with five Fridays: January, April, July, October 2027.
    assert [s[:10] for s, _ in starts(["5th fri 09:00-10:00"], "2027-01-01T00:00", 4)] == [
        "2027-01-29",
        "2027-04-30",
        "2027-07-30",
        "2027-10-29",
    ]


def test_a_blackout_overrides_windows_across_a_change() -> None:
    # Daily 09:00-17:00 Oslo with the days around the March change blacked out (whole days,
    # Oslo's calendar): the next openings skip 26-29 March and come back at summer time.
    rules = ["daily 09:00-17:00 Europe/Oslo", "except 2027-03-26..2027-03-29 Europe/Oslo"]
    assert starts(rules, "2027-03-25T12:00", 2) == [
        ("2027-03-30T07:00", "2027-03-30T15:00"),
        ("2027-03-31T07:00", "2027-03-31T15:00"),
    ]
    inside = [parse_rule(spec) for spec in rules]
    assert timeline.covers(inside, utc("2027-03-25T12:00"))
    assert not timeline.covers(inside, utc("2027-03-26T12:00"))
    # A blackout of some hours cuts a window in two.
    cut = [parse_rule("thu 08:00-16:00"), parse_rule("except 2026-12-03 11:00-12:00")]
    assert starts([r.text for r in cut], "2026-12-01T00:00", 2) == [
        ("2026-12-03T08:00", "2026-12-03T11:00"),
        ("2026-12-03T12:00", "2026-12-03T16:00"),
    ]


def test_a_dated_one_off_opens_once() -> None:
    rules = [parse_rule("2027-06-01 22:00-02:00 Europe/Oslo")]
    found = timeline.upcoming(rules, utc("2026-12-01T00:00"), count=3)
    assert [(o.start, o.end) for o in found] == [(utc("2027-06-01T20:00"), utc("2027-06-02T00:00"))]


def test_overlapping_windows_merge_and_keep_the_first_reason() -> None:
    rules = [parse_rule("fri 22:00-02:00", "deploys"), parse_rule("sat 00:00-06:00", "backups")]
    (opening,) = timeline.upcoming(rules, utc("2026-12-01T00:00"), count=1)
    assert (opening.start, opening.end) == (utc("2026-12-04T22:00"), utc("2026-12-05T06:00"))
    assert opening.reason == "deploys"


def test_current_finds_the_start_of_a_long_run() -> None:
    rules = [parse_rule("2026-12-21..2027-01-03 Europe/Oslo", "holiday freeze")]
    now = timeline.current(rules, utc("2026-12-30T12:00"))
    assert now is not None
    assert (now.start, now.end) == (utc("2026-12-20T23:00"), utc("2027-01-03T23:00"))
    assert now.end - now.start == timedelta(days=14)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("monthly", "expected days of the month"),
        ("monthly 0 10:00-11:00", "from 1 to 31"),
        ("monthly x", "expected days of the month like 1,15"),
        ("first 10:00-11:00", "is not a weekday"),
        ("2026-02-30", "is not a date"),
        ("2026-1-3", "expected a date as YYYY-MM-DD"),
        ("2027-01-03..2026-12-21", "ends before it starts"),
        ("2026-01-01..2028-01-01", "longer than a year"),
        ("except", "empty schedule"),
        ("mon 09:00-09:00", "leave the hours out for whole days"),
    ],
)
def test_a_bad_rule_says_why_in_one_line(spec: str, words: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_rule(spec)
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)
