"""Alertmanager routing for the tiers, as a plain config and as a cluster's AlertmanagerConfig.

- priprod, severity critical: the pager, at any hour;
- flexprod: the pager (critical) or the team chat, only inside office hours
  (``active_time_intervals``): an alert that fires at night waits, and is sent at 08:00 if it
  still fires;
- besteffort: the team chat, never the pager;
- everything else (priprod warnings, unknown tier): the team chat;
- a declared maintenance window opening and closing (``SiteStatusMaintenance``, severity
  ``info``): the team chat at any hour, never muted, never the pager.

A fleet incident (``SiteStatusFleetCritical``: several sites of a tier failing at once) inhibits
the per-site pages of that tier, so a shared cause pages once. Paging routes are muted in the
weekly maintenance slot (Thursday afternoon). Grouping and every inhibition keep the
``cluster`` (the external label of each cluster's Prometheus): the same site in two clusters is
two groups, and a fleet incident in one cluster holds back nothing in another (docs/clusters.md).
The end-to-end test renders this
with its own receivers, timings and intervals (see ``AlertmanagerSettings``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mixin.config import CLUSTER_LABEL
from mixin.fleet import FLEET_ALERT, SITE_PAGES_REGEX
from mixin.maintenance import MAINTENANCE_ALERT
from mixin.notifications import TEMPLATE_FILE

OFFICE_HOURS = "office-hours"
WEEKLY_MAINTENANCE = "weekly-maintenance"
PAGER = "pager"
TEAM_CHAT = "team-chat"
EXPORTER_ALERTS = "SiteStatusExporter(Down|Absent)"
CLUSTER = CLUSTER_LABEL
#: One notification per site, per node (SiteStatusLoadHigh) and per cause (SiteStatusWarningShared:
#: kind, reason, part); labels an alert does not have group as empty (docs/alerts.md).
GROUP_BY = ["alertname", CLUSTER, "site", "environment", "node", "kind", "reason", "part"]


def office_hours_oslo() -> list[dict[str, Any]]:
    return [
        {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "08:00", "end_time": "16:00"}],
            "location": "Europe/Oslo",
        }
    ]


def thursday_afternoon_oslo() -> list[dict[str, Any]]:
    return [
        {
            "weekdays": ["thursday"],
            "times": [{"start_time": "13:00", "end_time": "16:00"}],
            "location": "Europe/Oslo",
        }
    ]


@dataclass(frozen=True)
class AlertmanagerSettings:
    pager_url: str = "http://pager-gateway.example:8080/alertmanager"
    chat_url: str = "http://chat-bridge.example:8080/alertmanager"
    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"
    pager_repeat_interval: str = "1h"
    office_hours: list[dict[str, Any]] = field(default_factory=office_hours_oslo)
    weekly_maintenance: list[dict[str, Any]] = field(default_factory=thursday_afternoon_oslo)
    #: Template files, relative to the config file (mixin/notifications.py).
    templates: tuple[str, ...] = (TEMPLATE_FILE,)


def _route(receiver: str, *matchers: str, **extra: Any) -> dict[str, Any]:
    return {"receiver": receiver, "matchers": list(matchers), **extra}


def routes(settings: AlertmanagerSettings) -> list[dict[str, Any]]:
    muted = {"mute_time_intervals": [WEEKLY_MAINTENANCE]}
    office = {"active_time_intervals": [OFFICE_HOURS]}
    return [
        # A maintenance window's start and end: the chat, at any hour, never muted (a window
        # that opens and closes outside office hours would otherwise never be told).
        _route(TEAM_CHAT, f'alertname="{MAINTENANCE_ALERT}"'),
        _route(TEAM_CHAT, 'tier="besteffort"'),
        _route(
            PAGER,
            'tier="priprod"',
            'severity="critical"',
            repeat_interval=settings.pager_repeat_interval,
            **muted,
        ),
        _route(TEAM_CHAT, 'tier="priprod"', **muted),
        _route(
            PAGER,
            'tier="flexprod"',
            'severity="critical"',
            repeat_interval=settings.pager_repeat_interval,
            **office,
            **muted,
        ),
        _route(TEAM_CHAT, 'tier="flexprod"', **office, **muted),
    ]


def inhibit_rules() -> list[dict[str, Any]]:
    return [
        {
            # A shared cause pages once: the fleet alert lists the failing sites of its tier,
            # and their own pages wait while it fires (mixin/fleet.py, docs/alerts.md).
            "source_matchers": [f'alertname="{FLEET_ALERT}"'],
            "target_matchers": [f'alertname=~"{SITE_PAGES_REGEX}"'],
            "equal": [CLUSTER, "tier"],
        },
        {
            # A site that is down pages once; its warnings add nothing until it recovers.
            "source_matchers": ['alertname="SiteStatusSiteCritical"'],
            "target_matchers": ['severity="warning"'],
            "equal": [CLUSTER, "site", "environment"],
        },
        {
            # Without its exporter nothing is known about the site: only that alert counts.
            "source_matchers": [f'alertname=~"{EXPORTER_ALERTS}"'],
            "target_matchers": ['alertname=~"SiteStatus.+"', f'alertname!~"{EXPORTER_ALERTS}"'],
            "equal": [CLUSTER, "site", "environment"],
        },
        {
            # The critical variant of an alert hides its own warning variant.
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": [CLUSTER, "alertname", "site", "environment", "probe", "mountpoint"],
        },
    ]


def alertmanager_config(settings: AlertmanagerSettings | None = None) -> dict[str, Any]:
    settings = settings or AlertmanagerSettings()
    return {
        "route": {
            "receiver": TEAM_CHAT,
            "group_by": GROUP_BY,
            "group_wait": settings.group_wait,
            "group_interval": settings.group_interval,
            "repeat_interval": settings.repeat_interval,
            "routes": routes(settings),
        },
        "inhibit_rules": inhibit_rules(),
        "templates": list(settings.templates),
        "receivers": [
            {
                "name": PAGER,
                "webhook_configs": [{"url": settings.pager_url, "send_resolved": True}],
            },
            {
                "name": TEAM_CHAT,
                "webhook_configs": [{"url": settings.chat_url, "send_resolved": True}],
            },
        ],
        "time_intervals": [
            {"name": OFFICE_HOURS, "time_intervals": settings.office_hours},
            {"name": WEEKLY_MAINTENANCE, "time_intervals": settings.weekly_maintenance},
        ],
    }


# The AlertmanagerConfig CRD (monitoring.coreos.com/v1alpha1) has no time zone for its time
# intervals (prometheus-operator issue 5512): they are UTC. These are the Oslo hours written in
# UTC so that they hold in winter (UTC+1) and summer (UTC+2): office hours shrink to the part
# inside 08:00-16:00 all year, the maintenance mute grows to cover 13:00-16:00 all year.
OFFICE_HOURS_UTC = {
    "weekdays": ["monday:friday"],
    "times": [{"startTime": "07:00", "endTime": "14:00"}],
}
THURSDAY_AFTERNOON_UTC = {
    "weekdays": ["thursday"],
    "times": [{"startTime": "11:00", "endTime": "15:00"}],
}


def _crd_matcher(text: str) -> dict[str, str]:
    for operator in ("=~", "!~", "!=", "="):
        name, found, value = text.partition(operator)
        if found:
            return {"name": name, "value": value.strip('"'), "matchType": operator}
    raise ValueError(f"not a matcher: {text}")


def _crd_route(route: dict[str, Any]) -> dict[str, Any]:
    names = {
        "mute_time_intervals": "muteTimeIntervals",
        "active_time_intervals": "activeTimeIntervals",
        "repeat_interval": "repeatInterval",
    }
    out: dict[str, Any] = {"receiver": route["receiver"]}
    out["matchers"] = [_crd_matcher(m) for m in route["matchers"]]
    for key, value in route.items():
        if key in names:
            out[names[key]] = value
    return out


def alertmanager_config_crd(
    namespace: str = "monitoring", settings: AlertmanagerSettings | None = None
) -> dict[str, Any]:
    """The same routing as a cluster's AlertmanagerConfig, for prometheus-operator (v0.61+).

    Meant as the Alertmanager's global config (``Alertmanager.spec.alertmanagerConfiguration:
    {name: site-status}``, in the Alertmanager's namespace): then the operator adds no
    ``namespace`` matcher. Selected the usual way (``alertmanagerConfigSelector``) it would get
    ``namespace="<its namespace>"`` on every route and inhibition, and see no site's alert
    (they carry the site's namespace) nor the fleet alert (it has none), unless the Alertmanager
    sets ``alertmanagerConfigMatcherStrategy: {type: None}``.
    """
    settings = settings or AlertmanagerSettings()
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {"name": "site-status", "namespace": namespace},
        "spec": {
            "route": {
                "receiver": TEAM_CHAT,
                "groupBy": GROUP_BY,
                "groupWait": settings.group_wait,
                "groupInterval": settings.group_interval,
                "repeatInterval": settings.repeat_interval,
                "routes": [_crd_route(route) for route in routes(settings)],
            },
            "inhibitRules": [
                {
                    "sourceMatch": [_crd_matcher(m) for m in rule["source_matchers"]],
                    "targetMatch": [_crd_matcher(m) for m in rule["target_matchers"]],
                    "equal": rule["equal"],
                }
                for rule in inhibit_rules()
            ],
            "receivers": [
                {
                    "name": PAGER,
                    "webhookConfigs": [{"url": settings.pager_url, "sendResolved": True}],
                },
                {
                    "name": TEAM_CHAT,
                    "webhookConfigs": [{"url": settings.chat_url, "sendResolved": True}],
                },
            ],
            "muteTimeIntervals": [
                {"name": OFFICE_HOURS, "timeIntervals": [OFFICE_HOURS_UTC]},
                {"name": WEEKLY_MAINTENANCE, "timeIntervals": [THURSDAY_AFTERNOON_UTC]},
            ],
        },
    }
