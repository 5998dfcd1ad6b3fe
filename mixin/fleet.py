"""One page for a shared cause: a fleet-level alert that stands in for the per-site pages.

When a database, the ingress controller or a platform release fails, many sites fail at once.
``site_status_site:failing`` marks every site that would page by itself (its rollup CRITICAL, or
its exporter down or absent, outside maintenance) the moment it fails, before the per-site
alerts' ``for``. ``SiteStatusFleetCritical`` fires, per tier, when ``fleet_min_sites`` of them
fail together, with a shorter ``for`` than the per-site alerts, so it is in Alertmanager before
the first per-site page is due; Alertmanager's inhibition (``mixin/alertmanager.py``) then holds
back the per-site pages of that tier while it fires. A site failing alone never reaches the
count and pages by itself. docs/alerts.md says why this and not grouping alone.
"""

from __future__ import annotations

from typing import Any

from mixin.alerts import Alert, all_alerts, with_cluster
from mixin.causes import (
    in_common,
    probe_reason_rule,
    retired_rule,
    shared_warning_alert,
    warning_sites_rule,
)
from mixin.config import MixinConfig
from mixin.promql import PromQL

FAILING = "site_status_site:failing"
FLEET_ALERT = "SiteStatusFleetCritical"
#: The per-site pages a fleet incident stands in for (and inhibits).
SITE_PAGES = ("SiteStatusSiteCritical", "SiteStatusExporterDown", "SiteStatusExporterAbsent")
SITE_PAGES_REGEX = "|".join(SITE_PAGES)
FLEET_GROUP = "site-status-fleet"


def failing_rule(config: MixinConfig) -> dict[str, Any]:
    """1 per site whose per-site page condition holds now (its ``for`` not yet counted)."""
    exprs = {alert.name: alert.expr for alert in all_alerts(config)}
    union = "\nor\n".join(f"({exprs[name]})" for name in SITE_PAGES)
    indented = union.replace("\n", "\n  ")
    return {
        "record": FAILING,
        "expr": f"group by ({', '.join(PromQL(config).site_labels)}) (\n  {indented}\n)",
    }


def sites_listed(config: MixinConfig) -> str:
    """A template listing the failing sites of the alert's cluster and tier (run by Prometheus
    at firing)."""
    cluster = config.cluster_label
    query = f'printf "{FAILING}{{{cluster}=%q, tier=%q}}" $labels.{cluster} $labels.tier'
    each = "{{ .Labels.site }} ({{ .Labels.environment }}) {{ end }}"
    return f'{{{{ range {query} | query | sortByLabel "site" }}}}{each}'


def fleet_alert(config: MixinConfig) -> Alert:
    dashboard = (
        f"{config.grafana_url}/d/{config.fleet_dashboard_uid}/site-status-fleet"
        "?var-tier={{ $labels.tier }}" + with_cluster(config, "&var-cluster={{ . }}")
    )
    cluster = with_cluster(config, " in cluster {{ . }}")
    return Alert(
        FLEET_ALERT,
        "critical",
        f"count by ({config.cluster_label}, tier) ({FAILING}) >= {config.fleet_min_sites}",
        config.for_.fleet_critical,
        f"{{{{ $value }}}} {{{{ $labels.tier }}}} sites{cluster} are failing at once; in "
        f"common: {in_common(config, FAILING, 1)}",
        f"At least {config.fleet_min_sites} {{{{ $labels.tier }}}} sites{cluster} are CRITICAL "
        "or have lost their exporter at the same time: look for a cause they share (a "
        "database, the ingress controller, DNS, storage, a platform release) before looking "
        "at any one site. What most of them have in common (sites, probe kind, reason, "
        f"part): {in_common(config, FAILING, 3)}. Failing now: {sites_listed(config)}. "
        "While this alert fires, the sites' own pages "
        f"({', '.join(SITE_PAGES)}) are held back by Alertmanager (inhibited, still visible "
        "there and in the fleet dashboard); it keeps firing "
        f"{config.fleet_keep_firing_for} after fewer than {config.fleet_min_sites} sites fail, "
        "then sites still failing page one by one.",
        keep_firing_for=config.fleet_keep_firing_for,
        dashboard_url=dashboard,
        fleet_level=True,
    )


def fleet_group(config: MixinConfig) -> dict[str, Any]:
    # One group: the record is evaluated first, and the alert reads it at the same timestamp.
    # The records first: the alerts read them at the same timestamp.
    return {
        "name": FLEET_GROUP,
        "rules": [
            retired_rule(config),
            probe_reason_rule(config),
            failing_rule(config),
            warning_sites_rule(config),
            fleet_alert(config).rule(config),
            shared_warning_alert(config),
        ],
    }
