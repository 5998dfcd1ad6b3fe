from __future__ import annotations

import math

import pytest

from exporter.status import Status, worst
from exporter.thresholds import (
    DurationLimits,
    Limits,
    MinSizeLimits,
    PercentLimits,
    parse_range,
)
from exporter.units import format_duration, parse_duration, parse_size


def test_nagios_codes() -> None:
    assert [int(s) for s in (Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN)] == [
        0,
        1,
        2,
        3,
    ]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Status.OK),
        ([Status.OK, Status.WARNING], Status.WARNING),
        ([Status.WARNING, Status.UNKNOWN], Status.UNKNOWN),
        ([Status.UNKNOWN, Status.CRITICAL, Status.OK], Status.CRITICAL),
        ([Status.UNKNOWN, Status.WARNING, Status.OK], Status.UNKNOWN),
    ],
)
def test_rollup_is_not_numeric_max(statuses: list[Status], expected: Status) -> None:
    assert worst(statuses) is expected


def test_capped() -> None:
    assert Status.CRITICAL.capped(Status.WARNING) is Status.WARNING
    assert Status.UNKNOWN.capped(Status.WARNING) is Status.WARNING
    assert Status.OK.capped(Status.WARNING) is Status.OK


@pytest.mark.parametrize(
    ("text", "value", "alerts"),
    [
        ("10", 11, True),
        ("10", 5, False),
        ("10", -1, True),
        ("10:", 9, True),
        ("10:", 10, False),
        ("10:", 1e9, False),
        ("~:20", 21, True),
        ("~:20", -1e9, False),
        ("10:20", 9, True),
        ("10:20", 15, False),
        ("10:20", 21, True),
        ("@10:20", 15, True),
        ("@10:20", 9, False),
        ("@10:20", 10, True),
    ],
)
def test_nagios_ranges(text: str, value: float, alerts: bool) -> None:
    assert parse_range(text, Limits.parse_value).alerts(value) is alerts


def test_range_start_after_end_is_an_error() -> None:
    with pytest.raises(ValueError, match="start is greater"):
        parse_range("20:10", Limits.parse_value)


def test_warning_critical_mapping_with_plain_limits() -> None:
    limits = PercentLimits.model_validate({"warning": 80, "critical": 90})
    assert limits.grade(79.9) is Status.OK
    assert limits.grade(85) is Status.WARNING
    assert limits.grade(95) is Status.CRITICAL
    assert limits.describe(Status.CRITICAL) == "max 90%"


def test_mapping_with_nagios_ranges() -> None:
    limits = Limits.model_validate({"warning": "10:", "critical": "@0:5"})
    assert limits.grade(3) is Status.CRITICAL
    assert limits.grade(7) is Status.WARNING
    assert limits.grade(10) is Status.OK
    assert limits.describe(Status.WARNING) == "range 10:"


def test_single_value_is_a_critical_limit_in_the_field_direction() -> None:
    minimum = MinSizeLimits.model_validate("1KiB")
    assert minimum.grade(1023) is Status.CRITICAL
    assert minimum.grade(1024) is Status.OK
    ages = DurationLimits.model_validate({"warning": "2h", "critical": "6h"})
    assert ages.grade(3 * 3600) is Status.WARNING
    assert ages.describe(Status.WARNING) == "max 2h"


def test_duration_range_with_units() -> None:
    limits = DurationLimits.model_validate({"critical": "@1h:2h"})
    assert limits.grade(5400) is Status.CRITICAL
    assert limits.grade(60) is Status.OK


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("500ms", 0.5),
        (12, 12),
        ("1.5", 1.5),
        ("1d", 86400),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "abc", "-1", "1x", True, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("10k", 10_000), ("10KiB", 10_240), ("1.5GiB", 1.5 * 2**30), ("5MB", 5e6)],
)
def test_sizes(text: str, size: float) -> None:
    assert parse_size(text) == size


def test_format_duration() -> None:
    assert format_duration(45) == "45s"
    assert format_duration(7 * 3600 + 5) == "7h"
    assert format_duration(3 * 86400 + 7200) == "3d2h"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        # Seen in the field: an http summary "HTTP 200 in 0.00268s" and a gate progress line
        # "watching 7.45e-07s of 12s" (issue 27).
        (0.00268, "2.7ms"),
        (7.45e-07, "<0.1ms"),
        (0, "0s"),
        (0.0423, "42ms"),
        (0.2684, "0.27s"),
        (2.53, "2.5s"),
        (9.6, "10s"),
    ],
)
def test_short_durations_are_rounded_for_people(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
