"""The ``site-status`` command as operators and Nagios/Icinga run it."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

from exporter import __version__
from tests.support.exporter_process import site_status


def test_version() -> None:
    done = site_status("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"site-status {__version__}"


def test_check_exits_critical_and_says_why_in_one_line(tmp_path: Path) -> None:
    old = tmp_path / "forecast.nc"
    old.write_bytes(b"x" * 100)
    seven_hours_ago = time.time() - 7 * 3600
    os.utime(old, (seven_hours_ago, seven_hours_ago))
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(f"""
        site: {{name: example-site, tier: priprod}}
        probes:
          - {{name: forecast-file, kind: file, path: {old}, max_age: {{warning: 2h, critical: 6h}}}}
          - {{name: load, kind: load, load5: {{warning: 1000, critical: 2000}}}}
    """)
    )
    done = site_status("check", "--config", str(config))
    assert done.returncode == 2, done.stderr
    first, *table = done.stdout.splitlines()
    assert first == f"SITE-STATUS CRITICAL - forecast-file: {old} is 7h old (max 6h)"
    assert table[0].split() == ["PROBE", "KIND", "STATUS", "SUMMARY"]
    assert any(row.split()[:3] == ["load", "load", "OK"] for row in table[1:])


def test_check_json_and_ok_exit(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.write_text("x")
    config = tmp_path / "site.yaml"
    config.write_text(f"probes:\n  - {{name: f, kind: file, path: {fresh}, max_age: 1h}}\n")
    done = site_status("check", "--config", str(config), "--format", "json")
    assert done.returncode == 0
    document = json.loads(done.stdout)
    assert document["status"] == "OK"
    assert document["probes"][0]["details"]["matched"] == str(fresh)


def test_check_with_invalid_config_is_unknown(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("probes: [{name: f, kind: file}]\n")
    done = site_status("check", "--config", str(config))
    assert done.returncode == 3
    assert done.stdout.startswith("SITE-STATUS UNKNOWN - invalid config")
    assert "probes[0].path (line 1): Field required" in done.stderr


def test_validate_names_all_three_mistakes(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent("""
        site: {name: example, tier: platinum}
        defaults: {interval: 60s, timeout: 10s}
        probes:
          - {name: disk, kind: disk, path: /, used_percent: {warning: lots}}
          - {name: forecast, kind: file, path: /data/f.nc, max_age: {warning: 2h}, colour: red}
    """)
    )
    done = site_status("validate", "--config", str(config))
    assert done.returncode == 2
    errors = [line.strip() for line in done.stderr.splitlines()[1:]]
    assert len(errors) == 3, done.stderr
    assert errors[0].startswith("site.tier (line 2): Input should be 'priprod'")
    assert errors[1] == (
        "probes[0].used_percent.warning (line 5): expected a number or a Nagios range, got 'lots'"
    )
    assert errors[2] == "probes[1].colour (line 6): unknown key"


def test_validate_accepts_the_embedded_default() -> None:
    done = site_status("validate")
    assert done.returncode == 0
    assert done.stdout.startswith("embedded default config: valid, 3 probe(s)")


def test_check_runs_the_embedded_default_on_this_machine() -> None:
    done = site_status("check", "--format", "json")
    document = json.loads(done.stdout)
    assert {p["name"] for p in document["probes"]} == {"filesystems", "load", "network-mounts"}
    assert done.returncode == document["code"]
    filesystems = next(p for p in document["probes"] if p["name"] == "filesystems")
    assert filesystems["status"] != "UNKNOWN", filesystems
