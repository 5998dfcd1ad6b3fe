"""The generated rule files: valid for promtool, unit-tested, complete, and up to date."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixin.alerts import all_alerts
from mixin.causes import SHARED_WARNING_ALERT, WARNING_SITES
from mixin.config import MixinConfig
from mixin.fleet import FAILING, FLEET_ALERT
from mixin.generate import REPO, generated_files, stale_files
from mixin.maintenance import MAINTENANCE_ALERT, maintenance_alert
from mixin.rules import ALERTS_FILE, RECORDING_FILE
from mixin.slo import burn_alerts

PROMTOOL_TESTS = Path(__file__).parent / "promtool"
RULE_FILES = [REPO / "alerts" / ALERTS_FILE, REPO / "alerts" / RECORDING_FILE]


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: scripts/test installs Debian's prometheus package"
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_committed_files_are_the_generators_output() -> None:
    assert stale_files(generated_files(MixinConfig()), REPO) == []


def test_check_mode_names_a_stale_file(tmp_path: Path) -> None:
    files = generated_files(MixinConfig())
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "alerts" / ALERTS_FILE).write_text("groups: []\n")
    assert stale_files(files, tmp_path) == [f"alerts/{ALERTS_FILE}"]


def test_promtool_accepts_the_rule_files() -> None:
    result = promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    "test_file",
    # 30 days of availability rules: a minute of CPU, left out of scripts/test --quick.
    ["alerts.test.yml", pytest.param("availability.test.yml", marks=pytest.mark.slow)],
)
def test_promtool_unit_tests_pass(test_file: str) -> None:
    result = promtool("test", "rules", test_file, cwd=PROMTOOL_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """A wrong expectation is caught: the unit tests are not vacuous."""
    text = (PROMTOOL_TESTS / "availability.test.yml").read_text()
    broken = text.replace("value: 0.8571428571428571", "value: 0.86", 1)
    assert broken != text
    rules = tmp_path / "rules"
    rules.mkdir()
    (tmp_path / "t").mkdir()
    shutil.copy(REPO / "alerts" / RECORDING_FILE, rules)
    (tmp_path / "t" / "broken.test.yml").write_text(broken.replace("../../../alerts/", "../rules/"))
    result = promtool("test", "rules", "broken.test.yml", cwd=tmp_path / "t")
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
    assert "site_status_site:availability:ratio_1d" in result.stdout + result.stderr


#: The files with alert tests (error_budget.test.yml runs in tests/mixin/test_error_budget.py).
ALERT_TEST_FILES = ("alerts.test.yml", "error_budget.test.yml")


def alert_tests() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for name in ALERT_TEST_FILES:
        groups += yaml.safe_load((PROMTOOL_TESTS / name).read_text())["tests"]
    return groups


def alert_names() -> list[str]:
    config = MixinConfig()
    return sorted({alert.name for alert in [*all_alerts(config), *burn_alerts(config)]})


def test_the_maintenance_announcement_fires_and_resolves_with_the_reason() -> None:
    """The one alert a window does not mute (it is about the window): alerts.test.yml."""
    cases = [
        case
        for group in alert_tests()
        for case in group["alert_rule_test"]
        if case["alertname"] == MAINTENANCE_ALERT
    ]
    fired = [alert for case in cases for alert in case["exp_alerts"]]
    assert fired and any(not case["exp_alerts"] for case in cases)
    for alert in fired:
        assert alert["exp_labels"]["severity"] == "info"
        assert alert["exp_labels"]["reason"] in alert["exp_annotations"]["summary"]
    # Not muted by the window it announces.
    assert "unless" not in maintenance_alert(MixinConfig()).expr


#: Alerts about a node, not a site: they carry ``node`` instead of the site's labels.
NODE_ALERTS = {"SiteStatusLoadHigh"}


def in_maintenance_targets(group: dict[str, Any]) -> set[str]:
    """Instances of the group whose maintenance series says 1."""
    targets = set()
    for series in group["input_series"]:
        if series["series"].startswith("site_status_maintenance{") and re.match(
            r"^1x", series["values"]
        ):
            targets.add(re.search(r'instance="([^"]+)"', series["series"]).group(1))  # type: ignore[union-attr]
    return targets


@pytest.mark.parametrize("alertname", alert_names())
def test_every_alert_is_tested_firing_not_firing_and_muted(alertname: str) -> None:
    fired, quiet, muted = False, False, False
    for group in alert_tests():
        cases = [case for case in group["alert_rule_test"] if case["alertname"] == alertname]
        if not cases:
            continue
        fired |= any(case["exp_alerts"] for case in cases)
        quiet |= any(not case["exp_alerts"] for case in cases)
        maintained = in_maintenance_targets(group)
        expected = {
            alert["exp_labels"].get("instance") for case in cases for alert in case["exp_alerts"]
        }
        # The group feeds a target in maintenance the same failure, and it never alerts.
        muted |= bool(maintained) and not (maintained & expected)
        for case in cases:
            for alert in case["exp_alerts"]:
                labels = alert["exp_labels"]
                per_node = alertname in NODE_ALERTS
                needed = {"severity", "node"} if per_node else {"severity", "site", "tier"}
                assert needed <= labels.keys(), (alertname, labels)
    assert fired, f"{alertname}: no case where it fires"
    assert quiet, f"{alertname}: no case where it does not fire"
    assert muted, f"{alertname}: no case showing it muted by site_status_maintenance"


def test_every_alert_has_severity_annotations_runbook_and_dashboard() -> None:
    groups = yaml.safe_load((REPO / "alerts" / ALERTS_FILE).read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"] if "alert" in rule]
    records = {
        rule["record"]: rule for group in groups for rule in group["rules"] if "record" in rule
    }
    assert {rule["alert"] for rule in rules} == {
        *alert_names(),
        FLEET_ALERT,
        SHARED_WARNING_ALERT,
        MAINTENANCE_ALERT,
    }
    fleet_level = {FLEET_ALERT, SHARED_WARNING_ALERT, *NODE_ALERTS}
    for rule in rules:
        name = rule["alert"]
        # The announcement of a window is info, and not muted by it (tested above).
        severities = ("info",) if name == MAINTENANCE_ALERT else ("critical", "warning")
        assert rule["labels"]["severity"] in severities, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        assert annotations["runbook_url"].endswith(f"/{name}.md"), name
        assert (REPO / "docs" / "runbooks" / f"{name}.md").is_file(), f"no runbook for {name}"
        dashboard = "/d/site-status-fleet/" if name in fleet_level else "/d/site-status-site/"
        assert dashboard in annotations["dashboard_url"], name
        # Per-site alerts link the Loki query of the site's reports.
        assert ("loki_query" in annotations) == (name not in fleet_level), name
        # Directly, or through the recorded site_status_site:maintenance; the fleet alert
        # counts site_status_site:failing and the shared warning site_status_warning:sites,
        # which leave sites in maintenance out.
        recorded = {FLEET_ALERT: FAILING, SHARED_WARNING_ALERT: WARNING_SITES}
        expr = records[recorded[name]]["expr"] if name in recorded else rule["expr"]
        assert re.search(r"site_status(_site:)?_?maintenance(_info)?\b", expr), name


def test_shorter_for_durations_render_for_fast_tests() -> None:
    fast = MixinConfig().with_all_for("2s")
    assert {alert.for_ for alert in all_alerts(fast)} == {"2s"}
