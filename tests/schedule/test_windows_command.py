"""``site-status windows`` lists what a person wrote; the config's maintenance reads the same
grammar (blackouts included)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exporter.config import ConfigInvalid, parse_config
from exporter.registry import default_registry
from tests.support.exporter_process import command_env


def windows(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", "windows", *args],
        capture_output=True,
        text=True,
        env=command_env(),
        check=False,
    )


def test_it_lists_the_next_openings_with_their_utc_instants() -> None:
    done = windows(
        "first wed 18:00-22:00 Europe/Oslo",
        "except 2027-01-06 Europe/Oslo",
        "--from",
        "2026-12-01T00:00Z",
        "--count",
        "2",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Wed 2026-12-02 18:00-22:00 Europe/Oslo  (4h; 2026-12-02T17:00Z..2026-12-02T21:00Z)",
        "Wed 2027-02-03 18:00-22:00 Europe/Oslo  (4h; 2027-02-03T17:00Z..2027-02-03T21:00Z)",
    ]


def test_json_names_the_open_window_and_the_next(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        "site:\n  name: shop\n  maintenance:\n"
        "    - {schedule: 'thu 15:00-17:00 Europe/Oslo', reason: releases}\n"
        "    - 'except 2026-12-24..2026-12-31 Europe/Oslo'\n"
    )
    done = windows("--config", str(config), "--from", "2026-12-03T14:30Z", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["current"]["reason"] == "releases"
    assert document["current"]["end"] == "2026-12-03T16:00:00+00:00"
    # 24 and 31 December are Thursdays inside the blackout.
    starts = [opening["start"][:10] for opening in document["next"][:3]]
    assert starts == ["2026-12-10", "2026-12-17", "2027-01-07"]


def test_a_bad_spec_is_one_line_and_exit_2() -> None:
    done = windows("second funday 10:00-11:00")
    assert done.returncode == 2
    assert done.stderr == "'second funday 10:00-11:00': 'funday' is not a weekday (mon, tue, ...)\n"


def test_the_config_reads_schedules_and_reports_a_bad_one_at_its_path() -> None:
    text = (
        "site:\n  maintenance:\n    - last sun 01:00-04:00 Europe/Oslo\n"
        "    - {schedule: except 2026-10-25, reason: launch}\n"
    )
    config = parse_config(text, default_registry())
    assert not config.site.in_maintenance(datetime(2026, 10, 25, 1, 0, tzinfo=UTC))
    assert config.site.in_maintenance(datetime(2026, 11, 29, 1, 0, tzinfo=UTC))
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(
            "site:\n  maintenance:\n    - {schedule: first fun 10:00-11:00}\n", default_registry()
        )
    (error,) = caught.value.errors
    assert str(error).startswith("site.maintenance[0]")
    assert "'fun' is not a weekday" in str(error)
