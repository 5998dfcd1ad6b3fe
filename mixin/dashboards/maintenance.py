"""The fleet's announced maintenance: the windows open now and those starting within 7 days.

The exporter exports the reason of the open window only (``site_status_maintenance_info``) and
the start and end of the next one (``site_status_maintenance_next_*_timestamp_seconds``): a row
with a reason is a window open now, a row with a start and an end is one coming up.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import dashboard as model

from mixin.config import MixinConfig
from mixin.dashboards.common import prom_table
from mixin.promql import PromQL

HORIZON_SECONDS = 7 * 86400
TITLE = "Maintenance in the next 7 days"
BY = "max by (cluster, site, environment, tier)"


def upcoming(config: MixinConfig, filters: tuple[str, ...], series: str) -> str:
    """``series`` (a next-window timestamp) in ms for Grafana, for windows starting soon."""
    q = PromQL(config)
    start = q.metric("site_status_maintenance_next_start_timestamp_seconds")
    soon = f"{q.metric(series)}\nand {q.on_target}\n  {start} < time() + {HORIZON_SECONDS}"
    return f"{BY} ({q.with_site(soon, *filters)}) * 1000"


def open_now(config: MixinConfig, filters: tuple[str, ...]) -> str:
    q = PromQL(config)
    info = q.with_site(f"{q.metric('site_status_maintenance_info')} == 1", *filters)
    return f"max by (cluster, site, environment, tier, reason) ({info})"


def maintenance_panel(
    config: MixinConfig, filters: tuple[str, ...], link: db.DashboardLink
) -> table.Panel:
    timestamp = [model.DynamicConfigValue(id_val="unit", value="dateTimeAsIso")]
    return (
        table.Panel()
        .title(TITLE)
        .description(
            "Declared maintenance windows (site.maintenance): with a reason, open now (its "
            "alerts are muted, SiteStatusMaintenance told the chat); with a start and an end, "
            "the site's next window, starting within 7 days."
        )
        .unit("none")
        .height(7)
        .span(24)
        .data_links([link])
        .with_target(prom_table(open_now(config, filters), ref="open"))
        .with_target(
            prom_table(
                upcoming(config, filters, "site_status_maintenance_next_start_timestamp_seconds"),
                ref="start",
            )
        )
        .with_target(
            prom_table(
                upcoming(config, filters, "site_status_maintenance_next_end_timestamp_seconds"),
                ref="end",
            )
        )
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "Value #open": True},
                    "renameByName": {"Value #start": "start", "Value #end": "end"},
                    "indexByName": {
                        "site": 0,
                        "cluster": 1,
                        "environment": 2,
                        "tier": 3,
                        "reason": 4,
                        "Value #start": 5,
                        "Value #end": 6,
                    },
                },
            )
        )
        .override_by_name("start", timestamp)
        .override_by_name("end", timestamp)
    )
