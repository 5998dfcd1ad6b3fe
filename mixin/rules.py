"""Prometheus rule files: the recording rules and the alerts, as ``groups`` documents."""

from __future__ import annotations

from typing import Any

from mixin.alerts import all_alerts
from mixin.config import MixinConfig
from mixin.fleet import fleet_group
from mixin.maintenance import maintenance_alert
from mixin.recording import state_rules, window_rules
from mixin.slo import (
    burn_alerts,
    fast_error_ratio_rules,
    month_budget_rules,
    month_counter_rules,
    objective_rules,
    slow_error_ratio_rules,
)

RECORDING_FILE = "site-status-recording.rules.yml"
ALERTS_FILE = "site-status-alerts.rules.yml"


def recording_groups(config: MixinConfig) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "site-status-state",
                "interval": config.state_interval,
                # The month's counters and the shortest error ratio read the state samples of
                # the same evaluation.
                "rules": state_rules(config)
                + month_counter_rules(config)
                + fast_error_ratio_rules(config),
            },
            {
                "name": "site-status-availability",
                "interval": config.window_interval,
                "rules": [
                    *window_rules(config),
                    *slow_error_ratio_rules(config),
                    *objective_rules(config),
                    *month_budget_rules(config),
                ],
            },
        ]
    }


def alert_groups(config: MixinConfig) -> dict[str, Any]:
    return {
        "groups": [
            {
                "name": "site-status-alerts",
                # The burn alerts read SiteStatusSiteCritical's ALERTS of the same evaluation.
                "rules": [
                    alert.rule(config)
                    for alert in [
                        *all_alerts(config),
                        *burn_alerts(config),
                        maintenance_alert(config),
                    ]
                ],
            },
            fleet_group(config),
        ]
    }


def rule_files(config: MixinConfig) -> dict[str, dict[str, Any]]:
    """File name in ``alerts/`` -> document."""
    return {RECORDING_FILE: recording_groups(config), ALERTS_FILE: alert_groups(config)}
