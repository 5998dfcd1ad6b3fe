"""Alertmanager routing: amtool accepts it and routes each tier where it belongs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixin.alertmanager import alertmanager_config, alertmanager_config_crd
from mixin.generate import REPO
from tests.support.node_tools import alertmanagerconfig_errors

CONFIG = REPO / "alerts" / "alertmanager.yml"
CRD = REPO / "k8s" / "cluster" / "alertmanagerconfig.yaml"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("amtool")
    assert binary, "amtool is missing: scripts/test installs prometheus-alertmanager"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)


def test_amtool_accepts_the_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_rejects_a_route_to_a_missing_receiver(tmp_path: Path) -> None:
    config = alertmanager_config()
    config["route"]["routes"][1]["receiver"] = "nobody"
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    assert amtool("check-config", str(path)).returncode != 0


ROUTING = [
    # (labels, receiver): priprod pages for critical only; flexprod pages (in office hours);
    # besteffort and an unknown tier never page.
    (["tier=priprod", "severity=critical", "alertname=SiteStatusSiteCritical"], "pager"),
    (["tier=priprod", "severity=warning", "alertname=SiteStatusSiteDegraded"], "team-chat"),
    (["tier=flexprod", "severity=critical", "alertname=SiteStatusSiteCritical"], "pager"),
    (["tier=flexprod", "severity=warning", "alertname=SiteStatusLoadHigh"], "team-chat"),
    (["tier=besteffort", "severity=critical", "alertname=SiteStatusSiteCritical"], "team-chat"),
    (["tier=besteffort", "severity=warning", "alertname=SiteStatusSiteDegraded"], "team-chat"),
    (["tier=unknown", "severity=critical", "alertname=SiteStatusExporterDown"], "team-chat"),
    # The fleet alert routes like its tier.
    (["tier=priprod", "severity=critical", "alertname=SiteStatusFleetCritical"], "pager"),
    (["tier=flexprod", "severity=critical", "alertname=SiteStatusFleetCritical"], "pager"),
    (["tier=besteffort", "severity=critical", "alertname=SiteStatusFleetCritical"], "team-chat"),
    # A maintenance window's announcement: the chat, whatever the tier, never the pager.
    (["tier=priprod", "severity=info", "alertname=SiteStatusMaintenance"], "team-chat"),
    (["tier=flexprod", "severity=info", "alertname=SiteStatusMaintenance"], "team-chat"),
    (["tier=besteffort", "severity=info", "alertname=SiteStatusMaintenance"], "team-chat"),
]


@pytest.mark.parametrize(("labels", "receiver"), ROUTING)
def test_routes_by_tier_and_severity(labels: list[str], receiver: str) -> None:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_routes_test_fails_for_a_wrong_receiver() -> None:
    labels = ["tier=besteffort", "severity=critical"]
    result = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", "--verify.receivers=pager", *labels
    )
    assert result.returncode != 0


def test_the_maintenance_announcement_is_sent_at_any_hour_with_its_end() -> None:
    """Not held for office hours nor muted in the weekly slot: a window that opens and closes
    at night is still told, start (firing) and end (resolved)."""
    config = yaml.safe_load(CONFIG.read_text())
    route = matched_route(config, {"alertname": "SiteStatusMaintenance", "tier": "flexprod"})
    assert route["receiver"] == "team-chat"
    assert "active_time_intervals" not in route and "mute_time_intervals" not in route
    chat = next(r for r in config["receivers"] if r["name"] == "team-chat")
    assert all(hook["send_resolved"] for hook in chat["webhook_configs"])
    # No inhibition holds back an info alert by its severity.
    for rule in config["inhibit_rules"]:
        assert 'severity="info"' not in rule["target_matchers"]


def matched_route(config: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The first child route whose equality matchers all hold (the config uses no others)."""
    routes: list[dict[str, Any]] = config["route"]["routes"]
    for route in routes:
        pairs = [m.split("=", 1) for m in route["matchers"]]
        if all(labels.get(name) == value.strip('"') for name, value in pairs):
            return route
    raise AssertionError(f"no route for {labels}")


@pytest.mark.parametrize(
    ("tier", "severity", "active", "muted"),
    [
        ("priprod", "critical", None, ["weekly-maintenance"]),
        ("flexprod", "critical", ["office-hours"], ["weekly-maintenance"]),
        ("flexprod", "warning", ["office-hours"], ["weekly-maintenance"]),
        ("besteffort", "critical", None, None),
    ],
)
def test_time_intervals_per_tier(
    tier: str, severity: str, active: list[str] | None, muted: list[str] | None
) -> None:
    config = yaml.safe_load(CONFIG.read_text())
    route = matched_route(config, {"tier": tier, "severity": severity})
    assert route.get("active_time_intervals") == active
    assert route.get("mute_time_intervals") == muted
    intervals = {
        interval["name"]: interval["time_intervals"] for interval in config["time_intervals"]
    }
    assert intervals["office-hours"] == [
        {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "08:00", "end_time": "16:00"}],
            "location": "Europe/Oslo",
        }
    ]
    assert intervals["weekly-maintenance"][0]["weekdays"] == ["thursday"]


def test_alertmanagerconfig_is_valid_for_the_crd() -> None:
    document = yaml.safe_load(CRD.read_text())
    assert document == alertmanager_config_crd("monitoring")
    assert alertmanagerconfig_errors([document]) == []


def test_the_crd_validator_rejects_a_bad_matcher() -> None:
    document = alertmanager_config_crd()
    document["spec"]["route"]["routes"][1]["matchers"][0]["matchType"] = "=="
    errors = alertmanagerconfig_errors([document])
    assert errors and "matchType" in errors[0]


CRD_ROUTE_KEYS = {
    "receiver": "receiver",
    "matchers": "matchers",
    "groupBy": "group_by",
    "groupWait": "group_wait",
    "groupInterval": "group_interval",
    "repeatInterval": "repeat_interval",
    "activeTimeIntervals": "active_time_intervals",
    "muteTimeIntervals": "mute_time_intervals",
    "routes": "routes",
}


def plain_route(route: dict[str, Any]) -> dict[str, Any]:
    """What the operator makes of an AlertmanagerConfig route (strict: unknown keys fail)."""
    out: dict[str, Any] = {}
    for key, value in route.items():
        assert key in CRD_ROUTE_KEYS, f"unknown route key {key}"
        if key == "matchers":
            value = [plain_matcher(m) for m in value]
        elif key == "routes":
            value = [plain_route(child) for child in value]
        out[CRD_ROUTE_KEYS[key]] = value
    return out


def plain_matcher(matcher: dict[str, str]) -> str:
    return f'{matcher["name"]}{matcher["matchType"]}"{matcher["value"]}"'


def test_alertmanagerconfig_routes_and_inhibits_like_the_plain_config(tmp_path: Path) -> None:
    """Converted the way the operator does for the global config (no namespace matcher: the
    Alertmanager's spec.alertmanagerConfiguration), amtool routes it the same, and its
    inhibitions are the plain config's."""
    spec = alertmanager_config_crd()["spec"]
    receivers = [
        {
            "name": receiver["name"],
            "webhook_configs": [
                {"url": c["url"], "send_resolved": c["sendResolved"]}
                for c in receiver["webhookConfigs"]
            ],
        }
        for receiver in spec["receivers"]
    ]
    intervals = [
        {
            "name": interval["name"],
            "time_intervals": [
                {
                    "weekdays": t["weekdays"],
                    "times": [
                        {"start_time": r["startTime"], "end_time": r["endTime"]} for r in t["times"]
                    ],
                }
                for t in interval["timeIntervals"]
            ],
        }
        for interval in spec["muteTimeIntervals"]
    ]
    inhibit_rules = [
        {
            "source_matchers": [plain_matcher(m) for m in rule["sourceMatch"]],
            "target_matchers": [plain_matcher(m) for m in rule["targetMatch"]],
            "equal": rule["equal"],
        }
        for rule in spec["inhibitRules"]
    ]
    assert inhibit_rules == alertmanager_config()["inhibit_rules"]
    config = {
        "route": plain_route(spec["route"]),
        "receivers": receivers,
        "time_intervals": intervals,
        "inhibit_rules": inhibit_rules,
    }
    path = tmp_path / "converted.yml"
    path.write_text(yaml.safe_dump(config))
    assert amtool("check-config", str(path)).returncode == 0
    for labels, receiver in ROUTING:
        result = amtool("config", "routes", "test", f"--config.file={path}", *labels)
        assert result.stdout.strip() == receiver, labels
