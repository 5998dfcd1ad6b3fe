"""Announced maintenance from a real exporter: the window it is in and the next, with their
reasons, on /status, in /metrics and in the snapshot report."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema

from tests.gate.conftest import running_site
from tests.support.reports import load_schema


def test_status_metrics_and_snapshot_announce_the_current_and_next_window(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    end = now + timedelta(hours=1)
    later = (now + timedelta(days=10)).date()
    windows = [
        {
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": end.isoformat(),
            "reason": "db upgrade",
        },
        {"schedule": f"{later} 15:00-17:00 Europe/Oslo", "reason": "releases"},
    ]
    with running_site(tmp_path, "shop", maintenance=windows) as shop:
        document = shop.exporter.status()
        series = shop.exporter.metrics()
        shop.exporter.signal(signal.SIGTERM)  # its shutdown snapshot
        shop.exporter.process.wait(timeout=20)
    assert document["maintenance"] is True
    current = document["maintenance_window"]
    assert current["reason"] == "db upgrade"
    assert datetime.fromisoformat(current["end"]) == end.replace(microsecond=end.microsecond)
    following = document["next_maintenance"]
    assert following["reason"] == "releases"
    assert following["zone"] == "Europe/Oslo"
    assert following["text"] == f"{later:%a %d %b} 15:00-17:00 Europe/Oslo"
    assert series[("site_status_maintenance", ())] == 1.0
    assert series[("site_status_service_hours", ())] == 1.0  # priprod: every hour
    assert series[("site_status_maintenance_info", (("reason", "db upgrade"),))] == 1.0
    start = datetime.fromisoformat(following["start"])
    assert series[("site_status_maintenance_next_start_timestamp_seconds", ())] == start.timestamp()
    assert (
        series[("site_status_maintenance_next_end_timestamp_seconds", ())]
        == (start + timedelta(hours=2)).timestamp()
    )
    snapshots = [
        json.loads(line)
        for line in (tmp_path / "shop" / "reports.jsonl").read_text().splitlines()
        if '"snapshot"' in line
    ]
    assert snapshots
    snapshot = snapshots[0]
    jsonschema.validate(snapshot, load_schema())
    assert snapshot["maintenance_window"]["reason"] == "db upgrade"
    assert snapshot["next_maintenance"]["text"] == following["text"]
