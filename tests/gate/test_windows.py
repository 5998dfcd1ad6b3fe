"""``--window`` specs: the schedule grammar maintenance uses, judged in each rule's own zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.gate.windows import WindowSpecError, inside, next_opening, parse_window


def test_a_weekday_range_is_one_rule_on_those_days() -> None:
    (rule,) = parse_window("mon-thu 10:00-15:00 Europe/Oslo")
    assert rule.weekdays == {0, 1, 2, 3}
    assert rule.zone == "Europe/Oslo"


def test_ranges_wrap_over_the_weekend_and_lists_mix_with_ranges() -> None:
    assert parse_window("fri-mon 22:00-02:00")[0].weekdays == {4, 5, 6, 0}
    assert parse_window("Monday,wed-thu 09:00-11:00 UTC")[0].weekdays == {0, 2, 3}


def test_the_window_is_judged_in_its_own_zone_across_daylight_saving() -> None:
    windows = parse_window("thu 10:00-15:00 Europe/Oslo")
    # Summer: Oslo is UTC+2, so 10:00 local is 08:00 UTC; winter: UTC+1.
    assert inside(windows, datetime(2026, 7, 2, 8, 0, tzinfo=UTC))
    assert not inside(windows, datetime(2026, 7, 2, 7, 59, tzinfo=UTC))
    assert inside(windows, datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    assert not inside(windows, datetime(2026, 12, 3, 8, 59, tzinfo=UTC))


def test_next_opening_names_the_day_time_and_zone() -> None:
    windows = parse_window("mon-thu 10:00-15:00 Europe/Oslo")
    # Friday 2026-12-04 13:00 Oslo: the next opening is Monday.
    opening, text = next_opening(windows, datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    assert text == "Mon 10:00 Europe/Oslo"
    assert opening == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    # Tuesday after the window closed: Wednesday.
    _, text = next_opening(windows, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert text == "Wed 10:00 Europe/Oslo"
    # Before today's window opens: today.
    _, text = next_opening(windows, datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    assert text == "Tue 10:00 Europe/Oslo"


def test_the_earliest_of_several_windows_is_named() -> None:
    windows = [*parse_window("thu 10:00-12:00 Europe/Oslo"), *parse_window("wed 20:00-21:00 UTC")]
    _, text = next_opening(windows, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert text == "Wed 20:00 UTC"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("funday 10:00-11:00", "'funday' is not a weekday"),
        ("mon 10:00", "expected hours as HH:MM-HH:MM"),
        ("mon 25:00-11:00", "expected a time as HH:MM"),
        ("mon 10:00-11:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("mon 10:00-10:00", "start and end are the same time"),
        ("", "empty schedule"),
        ("mon 10:00-11:00 UTC extra", "unexpected 'extra'"),
    ],
)
def test_a_bad_spec_says_why_in_one_line(spec: str, words: str) -> None:
    with pytest.raises(WindowSpecError) as raised:
        parse_window(spec)
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)


@settings(max_examples=200, deadline=1000)
@given(st.text(max_size=60))
def test_any_spec_parses_or_gives_a_window_spec_error(spec: str) -> None:
    try:
        windows = parse_window(spec)
    except WindowSpecError as error:
        assert "\n" not in str(error)
    else:
        assert windows
        next_opening(windows, datetime(2026, 12, 1, tzinfo=UTC))
