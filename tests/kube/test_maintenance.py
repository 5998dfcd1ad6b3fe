"""Maintenance windows: weekly ones in their time zone (DST included), one-off ones, config."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exporter.config import ConfigInvalid, parse_config
from exporter.kube.deployment import parse_until
from exporter.maintenance import MaintenanceWindow, WeeklyWindow, window_until
from exporter.registry import default_registry

OSLO_THURSDAY = WeeklyWindow.model_validate(
    {"weekday": "thursday", "start": "15:00", "end": "17:00", "timezone": "Europe/Oslo"}
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-07-02T13:00", True),  # summer (CEST, +2): 15:00 in Oslo
        ("2026-07-02T14:59", True),
        ("2026-07-02T15:00", False),  # 17:00 in Oslo: the end is not in the window
        ("2026-07-02T12:59", False),
        ("2026-01-08T14:00", True),  # winter (CET, +1): 15:00 in Oslo
        ("2026-01-08T13:30", False),  # 14:30 in Oslo
        ("2026-01-08T15:59", True),
        ("2026-01-07T14:30", False),  # a Wednesday
        ("2026-03-26T14:30", True),  # the Thursday before the spring change (CET)
        ("2026-04-02T13:30", True),  # the Thursday after it (CEST)
    ],
)
def test_weekly_window_follows_the_wall_clock(moment: str, inside: bool) -> None:
    assert OSLO_THURSDAY.covers(utc(moment)) is inside


def test_a_window_past_midnight_covers_the_early_hours_of_the_next_day() -> None:
    window = WeeklyWindow.model_validate(
        {"weekday": "Saturday", "start": "22:00", "end": "02:00", "timezone": "UTC"}
    )
    assert window.covers(utc("2026-07-04T23:30"))  # Saturday night
    assert window.covers(utc("2026-07-05T01:59"))  # Sunday early
    assert not window.covers(utc("2026-07-05T02:00"))
    assert not window.covers(utc("2026-07-04T21:59"))
    assert not window.covers(utc("2026-07-06T01:00"))  # Monday early


def test_config_takes_both_kinds_of_windows() -> None:
    config = parse_config(
        """
site:
  name: shop
  maintenance:
    - {weekday: thursday, start: "15:00", end: "17:00", timezone: Europe/Oslo, reason: deploys}
    - {start: 2026-12-01T22:00:00Z, end: 2026-12-01T23:00:00Z, reason: db upgrade}
""",
        default_registry(),
    )
    weekly, once = config.site.maintenance
    assert isinstance(weekly, WeeklyWindow)
    assert isinstance(once, MaintenanceWindow)
    assert config.site.in_maintenance(utc("2026-12-01T22:30"))
    assert config.site.in_maintenance(utc("2026-12-03T14:30"))  # a Thursday, 15:30 in Oslo
    assert not config.site.in_maintenance(utc("2026-12-02T14:30"))


def test_config_errors_name_the_path_of_the_window() -> None:
    with pytest.raises(ConfigInvalid) as raised:
        parse_config(
            """
site:
  maintenance:
    - {weekday: thursday, start: 15:00, end: "17:00", timezone: Europe/Olso}
    - {weekday: someday, start: "15:00", end: "17:00"}
""",
            default_registry(),
        )
    text = str(raised.value)
    assert 'site.maintenance[0].start (line 4): write times in quotes, e.g. "15:00"' in text
    assert "site.maintenance[0].timezone (line 4): unknown time zone 'Europe/Olso'" in text
    assert "site.maintenance[1].weekday (line 5)" in text
    assert "weekly" not in text


def test_an_annotation_window_lasts_until_its_end() -> None:
    window = window_until(parse_until("2026-05-01T17:00:00+02:00"), "upgrade")
    assert window.covers(utc("2026-05-01T14:59"))
    assert not window.covers(utc("2026-05-01T15:00"))
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_until("tomorrow")
