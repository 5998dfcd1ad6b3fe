"""Property tests of the schedule grammar and timeline (Hypothesis).

Outside input (a ``--window`` on a command line, a config's ``maintenance``) either reads or
fails with one ScheduleError line; what reads gives ordered, disjoint openings that ``covers``
agrees with, that no blackout touches, and, for weekly rules, exactly what a wall clock in the
zone shows (away from the hour a daylight saving change moves).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from exporter.maintenance import WEEKDAYS, WeeklyWindow
from exporter.schedule import timeline
from exporter.schedule.grammar import ORDINALS, parse_rule
from exporter.schedule.rules import Rule, ScheduleError

ZONES = ["UTC", "Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily"]
WORDS = [*DAYS, "monthly", "except", "..", "-", ",", ":", " ", *ORDINALS, *ZONES, "2026-12-24"]

clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30]))
span = st.builds(lambda a, b: f"{a}-{b}", clock, clock).filter(lambda s: s[:5] != s[6:])
moment = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
day = st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2028, 12, 31).date())


@st.composite
def specs(draw: st.DrawFn) -> str:
    form = draw(st.sampled_from(["weekly", "monthly", "nth", "date", "run"]))
    if form == "weekly":
        a, b = draw(st.sampled_from(DAYS[:7])), draw(st.sampled_from(DAYS))
        when = a if b == "daily" else f"{a}-{b}"
    elif form == "monthly":
        when = "monthly " + ",".join(str(d) for d in draw(st.sets(st.integers(1, 31), min_size=1)))
    elif form == "nth":
        when = f"{draw(st.sampled_from(list(ORDINALS)))} {draw(st.sampled_from(DAYS[:7]))}"
    elif form == "date":
        when = draw(day).isoformat()
    else:
        first = draw(day)
        when = f"{first}..{first + timedelta(days=draw(st.integers(0, 20)))}"
    hours = draw(st.one_of(st.just(""), span))
    zone = draw(st.sampled_from(ZONES))
    blackout = "except " if draw(st.integers(0, 3)) == 0 else ""
    return f"{blackout}{when} {hours} {zone}"


@given(st.text(max_size=60) | st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join))
def test_any_text_reads_or_says_why_in_one_line(text: str) -> None:
    try:
        rule = parse_rule(text)
    except ScheduleError as error:
        assert "\n" not in str(error)
    else:
        timeline.upcoming([rule], datetime(2027, 1, 1, tzinfo=UTC), count=3)


@given(st.lists(specs(), min_size=1, max_size=4), moment)
def test_openings_are_ordered_disjoint_and_agree_with_covers(
    texts: list[str], at: datetime
) -> None:
    rules = [parse_rule(text) for text in texts]
    until = at + timedelta(days=45)
    found = timeline.openings(rules, at, until)
    # An opening that runs past the stretch asked about (an always-open rule) has a start or
    # end that is only the stretch's edge: the ones inside it are checked.
    for opening in (o for o in found if at < o.start and o.end < until):
        assert opening.start < opening.end
        middle = opening.start + (opening.end - opening.start) / 2
        assert timeline.covers(rules, middle)
        assert timeline.covers(rules, opening.start)
        assert not timeline.covers(rules, opening.end)
    for before, after in itertools.pairwise(found):
        assert before.end < after.start
    blackouts = [rule for rule in rules if rule.blackout]
    for black in timeline.openings(blackouts, at, until):
        if at < black.start:
            assert not timeline.covers(rules, black.start)
    assert timeline.covers(rules, at) == (timeline.current(rules, at) is not None)
    upcoming = timeline.upcoming(rules, at, count=3)
    assert all(opening.start > at for opening in upcoming)
    assert upcoming == sorted(upcoming, key=lambda opening: opening.start)


def _near_a_change(rule: Rule, at: datetime) -> bool:
    offsets = {(at + timedelta(hours=h)).astimezone(rule.tz).utcoffset() for h in range(-30, 31)}
    return len(offsets) > 1


@given(st.sampled_from(WEEKDAYS), clock, clock, st.sampled_from(ZONES), moment)
def test_weekly_rules_are_what_the_wall_clock_shows(
    weekday: str, start: str, end: str, zone: str, at: datetime
) -> None:
    """The previous, wall-clock judge of weekly windows and the timeline agree (the hours
    next to a daylight saving change are where they differ on purpose: see rules.py)."""
    if start == end:
        return
    wall = WeeklyWindow.model_validate(
        {"weekday": weekday, "start": start, "end": end, "timezone": zone}
    )
    rule = parse_rule(f"{weekday[:3]} {start}-{end} {zone}")
    if _near_a_change(rule, at):
        return
    assert timeline.covers([rule], at) == wall.covers(at)
