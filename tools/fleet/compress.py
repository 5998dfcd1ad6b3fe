"""Time-compressed COPIES of the shipped rules and routing (``alerts/``), for a run in minutes.

Only durations that set the pace are divided by the compression factor: each rule's ``for`` and
``keep_firing_for``, each rule group's ``interval``, and the routing's ``group_wait``,
``group_interval`` and ``repeat_interval`` at every level of the route tree. Expressions are
copied verbatim (their range windows, such as ``last_over_time(...[1d])``, stay as shipped), and so
are matchers, grouping, inhibitions and receivers' names. Receivers are pointed at the run's
webhook recorder (``/<receiver name>``). Time intervals: those a route is *active* in (office
hours) cover the whole day while the simulated day runs; at "night" the routing is reloaded with
them on a weekday three days away; those a route is *muted* in (the weekly maintenance slot) are
moved to that weekday too, so that they never cover the run.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROUTE_TIMINGS = ("group_wait", "group_interval", "repeat_interval")


def duration_seconds(text: str) -> float:
    """Seconds of a Prometheus duration (``1h30m``, ``500ms``, ``0s``)."""
    text = str(text).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def duration_text(seconds: float) -> str:
    """A Prometheus duration for ``seconds``, in whole milliseconds when not whole seconds."""
    milliseconds = round(seconds * 1000)
    if milliseconds % 1000 == 0:
        return f"{milliseconds // 1000}s"
    return f"{milliseconds}ms"


def scaled(text: str, compression: float, floor: float = 0.0) -> str:
    seconds = duration_seconds(text)
    if seconds == 0:
        return text
    return duration_text(max(floor, seconds / compression))


# --- rules --------------------------------------------------------------------------------------


def compressed_rules(document: dict[str, Any], compression: float) -> dict[str, Any]:
    """A rule file with ``for``, ``keep_firing_for`` and group intervals divided."""
    out = copy.deepcopy(document)
    for group in out.get("groups", []):
        if "interval" in group:
            group["interval"] = scaled(group["interval"], compression, floor=1.0)
        for rule in group.get("rules", []):
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = scaled(rule[key], compression)
    return out


#: Alerts whose meaning is their range windows, which the copy keeps as shipped: the error
#: budget's 5m to 3d read seconds of scrape timeouts on a saturated machine as a month's budget
#: burning, the filesystem forecasts' 6h trend reads minutes of the shared disk's ups and downs as
#: a day's, and both notify (and page) for it. promtool tests them at real pace
#: (tests/mixin/promtool/); the run leaves them out.
UNCOMPRESSED_WINDOW_ALERTS = (
    "SiteStatusErrorBudgetFastBurn",
    "SiteStatusErrorBudgetSlowBurn",
    "SiteStatusFilesystemSpaceFillingUp",
    "SiteStatusFilesystemInodesFillingUp",
)


def without_alerts(document: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The rule file without the alerting rules named ``names``."""
    out = copy.deepcopy(document)
    for group in out.get("groups", []):
        group["rules"] = [r for r in group.get("rules", []) if r.get("alert") not in names]
    return out


def shipped_rule_files(alerts_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.name: yaml.safe_load(path.read_text())
        for path in sorted(alerts_dir.glob("*.rules.yml"))
    }


def alert_for(rule_files: dict[str, dict[str, Any]], alertname: str, default: float) -> float:
    """The longest ``for`` (seconds) of the rules named ``alertname``."""
    found = [
        duration_seconds(rule.get("for", "0s"))
        for document in rule_files.values()
        for group in document.get("groups", [])
        for rule in group.get("rules", [])
        if rule.get("alert") == alertname
    ]
    return max(found) if found else default


# --- routing ------------------------------------------------------------------------------------


def routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes", []) or []:
        yield from routes(child)


def interval_names(route: dict[str, Any], key: str) -> set[str]:
    return {name for r in routes(route) for name in r.get(key, []) or []}


def weekday_away(days: int, today: datetime.date | None = None) -> str:
    today = today or datetime.datetime.now(datetime.UTC).date()
    return WEEKDAYS[(today.weekday() + days) % 7]


ALL_DAY = [{"times": [{"start_time": "00:00", "end_time": "24:00"}], "location": "UTC"}]


def never_during_run() -> list[dict[str, Any]]:
    return [{"weekdays": [weekday_away(3)], "location": "UTC"}]


def compressed_routing(
    document: dict[str, Any], compression: float, webhook_base: str, *, night: bool
) -> dict[str, Any]:
    """The routing with divided timings, receivers on ``webhook_base/<name>`` and time intervals
    that make it day (active intervals always on) or night (active intervals never on)."""
    out = copy.deepcopy(document)
    for route in routes(out["route"]):
        for key in ROUTE_TIMINGS:
            if key in route:
                route[key] = scaled(route[key], compression, floor=0.1)
    out["receivers"] = [
        {
            "name": receiver["name"],
            "webhook_configs": [
                {"url": f"{webhook_base}/{receiver['name']}", "send_resolved": True}
            ],
        }
        for receiver in out.get("receivers", [])
    ]
    active = interval_names(out["route"], "active_time_intervals")
    for interval in out.get("time_intervals", []) or []:
        if interval["name"] in active and not night:
            interval["time_intervals"] = ALL_DAY
        else:
            interval["time_intervals"] = never_during_run()
    out.pop("global", None)
    out.pop("templates", None)
    return out


def route_timing(document: dict[str, Any], key: str, default: str) -> float:
    """The top-level route's ``key`` (seconds)."""
    return duration_seconds(document.get("route", {}).get(key, default))
