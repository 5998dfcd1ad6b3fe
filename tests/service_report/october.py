"""The known month: October 2026 in Europe/Oslo (745 hours: summer time ends on the 25th, and
the month begins at 22:00 UTC on 30 September), for a fleet of five sites.

Every event is written here once, as what the exporters published; the expected figures are
computed from the same minutes in the test (test_month.py), never from the report's code.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.support.service_month import FleetSite, Published

OSLO = ZoneInfo("Europe/Oslo")
PRIPROD = {"availability": 0.995, "reliability": 0.995}
FLEXPROD = {"availability": 0.99, "reliability": 0.99}


def utc(month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, month, day, hour, minute, tzinfo=UTC).timestamp())


#: Data from an hour before the month (Oslo) to an hour after it.
DATA_START, DATA_END = utc(9, 30, 21), utc(11, 1, 0)
MONTH_START, MONTH_END = utc(9, 30, 22), utc(10, 31, 23)
#: Prometheus itself down: no sample of any site (the first 5 minutes still see the last one).
PROMETHEUS_GAP = (utc(10, 18, 0), utc(10, 18, 6))

Span = tuple[int, int]


def inside(t: int, *spans: Span) -> bool:
    return any(start <= t < end for start, end in spans)


def failing(probe: str, reason: str, others: tuple[str, ...] = ()) -> Published:
    probes = tuple((p, 2 if p == probe else 0) for p in ("db", "web", *others))
    return Published(status=2, probes=probes, reasons=((probe, reason, ""),))


OK = Published(probes=(("db", 0), ("web", 0)))


def site_minutes(
    events: list[tuple[Span, Published]],
    normal: Published = OK,
    exists_from: int = DATA_START,
    maintenance: tuple[Span, ...] = (),
    office_hours: bool = False,
) -> Callable[[int], Published | None]:
    def minute(t: int) -> Published | None:
        if t < exists_from or inside(t, PROMETHEUS_GAP):
            return None
        published = normal
        for span, event in events:
            if inside(t, span):
                published = event
        if inside(t, *maintenance) and published.up:
            published = dataclasses.replace(published, maintenance=1)
        if office_hours and published.up:
            published = dataclasses.replace(published, service_hours=in_office_hours(t))
        return published

    # The test reads each minute many times (each series, each lookback): once is enough.
    return functools.cache(minute)


def in_office_hours(t: int) -> int:
    """Oslo office hours (flexprod's service hours): Monday to Friday 08:00-16:00 local time."""
    local = datetime.fromtimestamp(t, OSLO)
    return int(local.weekday() < 5 and 8 <= local.hour < 16)


def flaps(start: int, count: int, minutes: int, every: int) -> list[Span]:
    return [(start + n * every * 60, start + (n * every + minutes) * 60) for n in range(count)]


SHOP_MAINTENANCE = (utc(10, 8, 20), utc(10, 8, 22))
# CRITICAL across the month's start (23:50-00:20 Oslo): 20 minutes are October's.
SHOP_ACROSS_START = (utc(9, 30, 21, 50), utc(9, 30, 22, 20))
# 02:30 CEST to 02:30 CET on the 25th: one hour, the same wall-clock time at both ends.
SHOP_IN_DST_CHANGE = (utc(10, 25, 0, 30), utc(10, 25, 1, 30))
SHOP_FLAPS = flaps(utc(10, 20, 8), count=3, minutes=2, every=10)
NEWS_OUTAGE = (utc(10, 5, 6), utc(10, 5, 11))  # 5 hours: more than the priprod budget
NEWS_FLAP = (utc(10, 20, 9), utc(10, 20, 9, 3))
# Still CRITICAL when the month ends (23:40 Oslo to after midnight).
INTRANET_AT_END = (utc(10, 31, 22, 40), utc(11, 1, 0))
NEWSITE_FROM = utc(10, 15, 12)

# "office" (flexprod) publishes its service hours. CRITICAL 15:00-17:00 CEST on Friday the 23rd
# (an hour of it in office hours), 07:30-08:30 CET on Monday the 26th, after the DST change (half
# an hour in), and 21:00-23:00 on the 27th (none).
OFFICE_FRIDAY = (utc(10, 23, 13), utc(10, 23, 15))
OFFICE_MONDAY = (utc(10, 26, 6, 30), utc(10, 26, 7, 30))
OFFICE_NIGHT = (utc(10, 27, 20), utc(10, 27, 22))

WARNING = Published(status=1, probes=(("db", 0), ("web", 1)), reasons=(("web", "slow", ""),))


@functools.cache
def fleet() -> tuple[FleetSite, ...]:
    drupal = {"environment": "prod", "profile": "drupal"}
    shop_events: list[tuple[Span, Published]] = [
        (SHOP_ACROSS_START, failing("web", "http_status")),
        (SHOP_IN_DST_CHANGE, failing("db", "refused")),
        # The first hour of the maintenance window down, the second up.
        ((utc(10, 8, 20), utc(10, 8, 21)), failing("web", "timeout")),
        ((utc(10, 12, 10), utc(10, 12, 12)), Published(up=False)),  # exporter not scraped
        ((utc(10, 14, 9), utc(10, 14, 9, 30)), Published(status=3, probes=(("db", 3), ("web", 0)))),
        *((span, failing("web", "timeout")) for span in SHOP_FLAPS),
    ]
    return (
        FleetSite(
            {"site": "shop", "tier": "priprod", **drupal},
            site_minutes(shop_events, maintenance=(SHOP_MAINTENANCE,)),
            PRIPROD,
        ),
        FleetSite(
            {"site": "news", "tier": "priprod", **drupal},
            site_minutes(
                [(NEWS_OUTAGE, failing("db", "refused")), (NEWS_FLAP, failing("web", "timeout"))]
            ),
            PRIPROD,
        ),
        FleetSite(
            {"site": "intranet", "tier": "flexprod", "environment": "prod", "profile": "wp"},
            site_minutes(
                [
                    ((utc(10, 3, 0), utc(10, 4, 0)), WARNING),
                    (INTRANET_AT_END, failing("web", "http_status")),
                ]
            ),
            FLEXPROD,
        ),
        FleetSite(
            {"site": "office", "tier": "flexprod", **drupal},
            site_minutes(
                [
                    (span, failing("db", "disk_full"))
                    for span in (OFFICE_FRIDAY, OFFICE_MONDAY, OFFICE_NIGHT)
                ],
                office_hours=True,
            ),
            FLEXPROD,
        ),
        FleetSite(
            {"site": "newsite", "tier": "besteffort", "environment": "test", "profile": "drupal"},
            site_minutes([], exists_from=NEWSITE_FROM),
        ),
    )
