"""Deploy windows against pager mutes: a rollout in a muted hour that breaks the site pages
nobody, exactly when the operators' rule says someone watches.

Alertmanager's ``time_intervals`` (weekdays, times, location) are read into rules of the
schedule grammar, and the openings of both are compared over a year, on each zone's wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from exporter.schedule import timeline
from exporter.schedule.grammar import parse_rule
from exporter.schedule.rules import Rule, ScheduleError
from exporter.schedule.timeline import Opening

#: How far ahead overlaps are looked for: a year holds every monthly and n-th weekday case.
HORIZON = timedelta(days=366)
_SUPPORTED = {"weekdays", "times", "location"}


@dataclass(frozen=True)
class Overlap:
    mute: str
    window: Opening
    muted: Opening

    def line(self) -> str:
        from exporter.schedule.listing import span_text

        start = max(self.window.start, self.muted.start)
        end = min(self.window.end, self.muted.end)
        hours = timeline.zone_of(self.window.zone)
        return (
            f"deploy window {span_text(self.window)} overlaps pager mute {self.mute!r} "
            f"from {start.astimezone(hours):%a %Y-%m-%d %H:%M} to "
            f"{end.astimezone(hours):%H:%M} {self.window.zone}"
        )


def _weekdays(ranges: Sequence[str]) -> str:
    parts = []
    for item in ranges:
        first, _, last = str(item).partition(":")
        parts.append(f"{first[:3]}-{last[:3]}" if last else first[:3])
    return ",".join(parts)


def interval_rules(name: str, interval: Mapping[str, Any]) -> list[Rule]:
    """One Alertmanager time interval as rules (one per time range)."""
    unsupported = sorted(set(interval) - _SUPPORTED)
    if unsupported:
        raise ScheduleError(
            f"time interval {name!r}: {', '.join(unsupported)} not supported by this check"
        )
    days = _weekdays(interval.get("weekdays") or []) or "daily"
    zone = str(interval.get("location") or "UTC")
    times = interval.get("times") or [{}]
    rules = []
    for span in times:
        start = str(span.get("start_time") or span.get("startTime") or "00:00")
        end = str(span.get("end_time") or span.get("endTime") or "24:00")
        end = "00:00" if end == "24:00" else end
        hours = "" if start == end == "00:00" else f" {start}-{end}"
        rules.append(parse_rule(f"{days}{hours} {zone}", name))
    return rules


def _tier_of(route: Mapping[str, Any]) -> str | None:
    """The tier a route's matchers select (``tier="priprod"``), None when they do not say."""
    for matcher in route.get("matchers") or []:
        key, _, value = str(matcher).partition("=")
        if key.strip() == "tier" and not value.startswith("~"):
            return value.strip().strip('"')
    return None


def _routes(route: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield route
    for child in route.get("routes") or []:
        yield from _routes(child)


def mutes_for_tier(config: Mapping[str, Any], tier: str) -> dict[str, list[Rule]]:
    """The mute intervals of the routes that carry ``tier``'s alerts, by name."""
    defined = {
        item["name"]: item.get("time_intervals") or []
        for key in ("time_intervals", "mute_time_intervals")
        for item in config.get(key) or []
    }
    found: dict[str, list[Rule]] = {}
    for route in _routes(config.get("route") or {}):
        if _tier_of(route) not in (None, tier):
            continue
        for name in route.get("mute_time_intervals") or []:
            if name not in defined:
                raise ScheduleError(f"mute_time_intervals names {name!r}, which is not defined")
            found[name] = [rule for item in defined[name] for rule in interval_rules(name, item)]
    return found


def overlaps(
    windows: Sequence[Rule], mutes: Mapping[str, Sequence[Rule]], since: datetime
) -> list[Overlap]:
    """Every opening of ``windows`` in the next year that a mute overlaps."""
    until = since + HORIZON
    opened = timeline.openings(windows, since, until)
    found = []
    for name, rules in mutes.items():
        for muted in timeline.openings(rules, since, until):
            for window in opened:
                if window.start < muted.end and muted.start < window.end:
                    found.append(Overlap(name, window, muted))
    return sorted(found, key=lambda overlap: overlap.window.start)
