"""Prometheus rule files: the recording rules and the alerts, as ``groups`` documents."""

from __future__ import annotations

from typing import Any

from mixin.alerts import all_alerts
from mixin.config import MixinConfig
from mixin.fleet import fleet_group
from mixin.recording import state_rules, window_rules

RECORDING_FILE = "site-status-recording.rules.yml"
ALERTS_FILE = "site-status-alerts.rules.yml"


def recording_groups(config: MixinConfig) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "site-status-state",
                "interval": config.state_interval,
                "rules": state_rules(config),
            },
            {
                "name": "site-status-availability",
                "interval": config.window_interval,
                "rules": window_rules(config),
            },
        ]
    }


def alert_groups(config: MixinConfig) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "site-status-alerts",
                "rules": [alert.rule(config) for alert in all_alerts(config)],
            },
            fleet_group(config),
        ]
    }


def rule_files(config: MixinConfig) -> dict[str, dict[str, Any]]:
    """File name in ``alerts/`` -> document."""
    return {RECORDING_FILE: recording_groups(config), ALERTS_FILE: alert_groups(config)}
