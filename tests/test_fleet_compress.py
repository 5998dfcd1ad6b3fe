"""The fleet run's time-compressed copies of the shipped rules and routing (tools/fleet/compress).

The copies must keep everything but the pace: promtool and amtool accept them, and only the
durations the run compresses change.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tools.fleet import compress

REPO = Path(__file__).resolve().parents[1]
ALERTS = REPO / "alerts"


def shipped_routing() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ALERTS / "alertmanager.yml").read_text())
    return document


@given(st.integers(min_value=1, max_value=10**9))
def test_a_duration_in_milliseconds_reads_back_as_written(milliseconds: int) -> None:
    text = compress.duration_text(milliseconds / 1000)
    assert compress.duration_seconds(text) == pytest.approx(milliseconds / 1000)


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), ("0s", 0.0)]
)
def test_prometheus_durations_are_read(text: str, seconds: float) -> None:
    assert compress.duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "1.5h", "5m3"])
def test_a_malformed_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        compress.duration_seconds(text)


def test_rules_copy_divides_for_and_intervals_and_keeps_expressions(tmp_path: Path) -> None:
    shipped = compress.shipped_rule_files(ALERTS)
    assert shipped, "alerts/*.rules.yml"
    for name, document in shipped.items():
        copy = compress.compressed_rules(document, 10)
        for group, original in zip(copy["groups"], document["groups"], strict=True):
            if "interval" in original:
                expected = max(1.0, compress.duration_seconds(original["interval"]) / 10)
                assert compress.duration_seconds(group["interval"]) == expected
            for rule, before in zip(group["rules"], original["rules"], strict=True):
                assert rule["expr"] == before["expr"]
                assert rule.get("labels") == before.get("labels")
                for key in ("for", "keep_firing_for"):
                    if key in before:
                        seconds = compress.duration_seconds(before[key])
                        assert compress.duration_seconds(rule[key]) == seconds / 10
        path = tmp_path / name
        path.write_text(yaml.safe_dump(copy))
        checked = subprocess.run(
            ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    critical_for = compress.alert_for(shipped, "SiteStatusSiteCritical", 0)
    assert critical_for == 300.0


@pytest.mark.parametrize("night", [False, True])
def test_routing_copy_keeps_routes_and_grouping_and_sets_day_or_night(
    tmp_path: Path, night: bool
) -> None:
    shipped = shipped_routing()
    copy = compress.compressed_routing(shipped, 10, "http://127.0.0.1:9/hook", night=night)
    for route, original in zip(
        compress.routes(copy["route"]), compress.routes(shipped["route"]), strict=True
    ):
        assert route.get("matchers") == original.get("matchers")
        assert route.get("group_by") == original.get("group_by")
        for key in compress.ROUTE_TIMINGS:
            if key in original:
                seconds = compress.duration_seconds(original[key])
                assert compress.duration_seconds(route[key]) == pytest.approx(seconds / 10)
    assert copy["inhibit_rules"] == shipped["inhibit_rules"]
    assert {r["name"] for r in copy["receivers"]} == {r["name"] for r in shipped["receivers"]}
    for receiver in copy["receivers"]:
        assert (
            receiver["webhook_configs"][0]["url"] == f"http://127.0.0.1:9/hook/{receiver['name']}"
        )
    active = compress.interval_names(copy["route"], "active_time_intervals")
    muted = compress.interval_names(copy["route"], "mute_time_intervals")
    assert active and muted
    intervals = {i["name"]: i["time_intervals"] for i in copy["time_intervals"]}
    today = compress.weekday_away(0)
    for name in active:
        assert (intervals[name] == compress.ALL_DAY) is not night
    for name in muted | (active if night else set()):
        assert intervals[name][0]["weekdays"] != [today]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(copy))
    checked = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
