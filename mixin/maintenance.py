"""The announcement of a declared maintenance window: one chat message when it opens, one when
it closes (the alert resolves), each naming the site and the window's reason.

It is the one alert that fires *because* of maintenance, so it is not muted by it; its
severity ``info`` routes it to the team chat at any hour (mixin/alertmanager.py), never to the
pager, and no inhibition (they hold back ``warning`` or name other alerts) silences it.
"""

from __future__ import annotations

from mixin.alerts import Alert, site_text
from mixin.config import MixinConfig
from mixin.promql import PromQL

MAINTENANCE_ALERT = "SiteStatusMaintenance"


def maintenance_alert(config: MixinConfig) -> Alert:
    q = PromQL(config)
    site = site_text(config)
    return Alert(
        MAINTENANCE_ALERT,
        "info",
        q.with_site(f"{q.metric('site_status_maintenance_info')} == 1"),
        "0s",
        f"{site} is in announced maintenance: {{{{ $labels.reason }}}}",
        "A maintenance window declared in the site's config (site.maintenance) is open, "
        "with the reason {{ $labels.reason }}. The site's other alerts are muted until it "
        "closes; this one resolves then. Nothing to do unless the window is unexpected.",
    )
