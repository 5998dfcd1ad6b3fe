"""A site's service hours (``site.service_hours``, docs/configuration.md): its tier's by
default, its own when set, judged on the zone's wall clock across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from exporter.config import Site


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def test_flexprod_is_served_in_oslo_office_hours_on_either_side_of_the_dst_change() -> None:
    site = Site(name="intranet", tier="flexprod")
    # Friday 23 October (CEST, UTC+2): 08:00-16:00 Oslo is 06:00-14:00 UTC.
    assert not site.in_service_hours(utc(10, 23, 5, 59))
    assert site.in_service_hours(utc(10, 23, 6, 0))
    assert site.in_service_hours(utc(10, 23, 13, 59))
    assert not site.in_service_hours(utc(10, 23, 14, 0))
    # The weekend, then Monday 26 October (CET, UTC+1): 07:00-15:00 UTC.
    assert not site.in_service_hours(utc(10, 24, 10))
    assert not site.in_service_hours(utc(10, 26, 6, 30))
    assert site.in_service_hours(utc(10, 26, 7, 0))
    assert site.in_service_hours(utc(10, 26, 14, 59))
    assert not site.in_service_hours(utc(10, 26, 15, 0))


@pytest.mark.parametrize("tier", ["priprod", "besteffort"])
def test_other_tiers_are_served_every_hour(tier: str) -> None:
    site = Site(name="shop", tier=tier)  # type: ignore[arg-type]
    assert all(site.in_service_hours(utc(10, 24, hour)) for hour in range(24))


def test_a_site_sets_its_own_hours_or_every_hour() -> None:
    hours = ["daily 06:00-22:00 Europe/Oslo", "except 2026-12-24..2026-12-26"]
    own = Site.model_validate({"name": "kiosk", "tier": "flexprod", "service_hours": hours})
    assert own.in_service_hours(utc(10, 24, 10))  # a Saturday, 12:00 Oslo
    assert not own.in_service_hours(utc(10, 24, 21))  # 23:00 Oslo
    assert not own.in_service_hours(utc(12, 24, 10))  # the blackout
    always = Site.model_validate({"name": "kiosk", "tier": "flexprod", "service_hours": ["daily"]})
    assert always.in_service_hours(utc(10, 24, 3))


def test_hours_with_no_hour_in_them_are_refused() -> None:
    for hours in ([], ["except 2026-12-24"]):
        with pytest.raises(ValidationError, match="no hours at all"):
            Site.model_validate({"name": "kiosk", "service_hours": hours})
    with pytest.raises(ValidationError, match="mon-fry"):
        Site.model_validate({"name": "kiosk", "service_hours": ["mon-fry 08:00-16:00"]})
