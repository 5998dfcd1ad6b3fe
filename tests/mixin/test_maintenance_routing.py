"""The maintenance announcement in the real Alertmanager with the shipped routing: a window's
start and end reach the team chat even outside office hours and inside the weekly mute, and
never the pager; a critical alert of the same site does not inhibit it."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from mixin.alertmanager import AlertmanagerSettings, alertmanager_config
from mixin.maintenance import MAINTENANCE_ALERT
from tests.mixin.test_fleet_routing import GROUP_INTERVAL, GROUP_WAIT, now, post
from tests.support.exporter_process import wait_until
from tests.support.monitoring import running_alertmanager, webhook_receiver

NEVER = [{"months": ["february"], "days_of_month": ["30"]}]
ALWAYS = [{"weekdays": ["sunday:saturday"]}]
REASON = "PostgreSQL 16 upgrade"


def alert(name: str, severity: str, ends_in: float, **extra: str) -> dict[str, Any]:
    labels = {
        "alertname": name,
        "severity": severity,
        "tier": "flexprod",
        "site": "shop",
        "environment": "prod",
        "job": "site-status",
        "instance": "shop:9918",
        **extra,
    }
    return {
        "labels": labels,
        "annotations": {"summary": f"shop is in announced maintenance: {REASON}"},
        "startsAt": (now() - datetime.timedelta(seconds=1)).isoformat(),
        "endsAt": (now() + datetime.timedelta(seconds=ends_in)).isoformat(),
    }


def test_start_and_end_reach_the_chat_at_any_hour_never_the_pager(tmp_path: Path) -> None:
    with webhook_receiver() as receiver:
        settings = AlertmanagerSettings(
            pager_url=receiver.url("pager"),
            chat_url=receiver.url("team-chat"),
            group_wait=f"{GROUP_WAIT:g}s",
            group_interval=f"{GROUP_INTERVAL:g}s",
            # Outside office hours and inside the weekly maintenance mute, all the time.
            office_hours=NEVER,
            weekly_maintenance=ALWAYS,
        )
        with running_alertmanager(tmp_path, alertmanager_config(settings)) as address:
            critical = alert("SiteStatusSiteCritical", "critical", 3600)
            post(address, [critical, alert(MAINTENANCE_ALERT, "info", 3600, reason=REASON)])

            def chat(status: str) -> list[dict[str, Any]]:
                sent = receiver.alerts_to("team-chat", alertname=MAINTENANCE_ALERT)
                return [a for _, state, a in sent if state == status]

            wait_until(lambda: chat("firing"), timeout=10, interval=0.1)
            assert chat("firing")[0]["labels"]["reason"] == REASON
            post(address, [alert(MAINTENANCE_ALERT, "info", 0, reason=REASON)])
            wait_until(lambda: chat("resolved"), timeout=15, interval=0.1)
            assert chat("resolved")[0]["annotations"]["summary"].endswith(REASON)
            # Two group intervals passed since it fired: a page would have come by now.
            assert receiver.alerts_to("pager", alertname=MAINTENANCE_ALERT) == []
