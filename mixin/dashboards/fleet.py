"""Fleet overview: every site's status at a glance, and where to look first."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import logs, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as model

from mixin.config import MixinConfig
from mixin.dashboards.common import (
    STATUS_TEXT,
    dashboard,
    label_variable,
    link,
    logql,
    prom,
    prom_table,
    thresholds,
    to_document,
    value_mappings,
)
from mixin.dashboards.maintenance import maintenance_panel
from mixin.promql import PromQL
from mixin.recording import (
    EXPORTER_DOWN,
    PROBE_NOT_OK,
    SITE_STATUS,
    availability_name,
    reliability_name,
)

#: Every fleet query follows every variable; the cluster (an external label, so absent on one
#: Prometheus: ``=~".*"`` matches that too) first.
FILTERS = (
    'cluster=~"$cluster"',
    'environment=~"$environment"',
    'tier=~"$tier"',
    'profile=~"$profile"',
)
#: The fleet's $profile filter on report lines (``| json`` flattens site.profile to this).
PROFILE_FILTER = ' | site_profile=~"$profile"'


def site_link(config: MixinConfig) -> db.DashboardLink:
    return link(
        "Site detail",
        f"/d/{config.site_dashboard_uid}/site-status-site?var-cluster=${{__field.labels.cluster}}"
        "&var-environment=${__field.labels.environment}&var-site=${__field.labels.site}"
        "&${__url_time_range}",
    )


def exporters_down(config: MixinConfig) -> str:
    """Targets that do not answer now, with the site they had when they last did (within the
    identity lookback), so that the dashboard's filters apply to them too. The tiles' instant
    query looks it up once; over a time range the recorded ``EXPORTER_DOWN`` is read instead."""
    q = PromQL(config)
    join = f"{q.on_target} group_left(site, environment, tier)"
    return f"({q.metric('up')} == 0)\n* {join}\n  {q.last_identity(*FILTERS)}"


def site_status_by_site(config: MixinConfig) -> str:
    """Each site's rollup; a site whose exporter is down shows as 4 (EXPORTER DOWN)."""
    q = PromQL(config)
    status = q.with_site(q.metric("site_status_site_status"), *FILTERS)
    down = f"{exporters_down(config)} + 4"
    by = "max by (cluster, site, environment, tier)"
    return f"{by} ({status})\nor {by} ({down})"


def recorded_down() -> str:
    return f"{EXPORTER_DOWN}{{{', '.join(FILTERS)}}}"


def site_status_over_time() -> str:
    """The same over a time range, recorded: no operation at every step."""
    return f"{SITE_STATUS}{{{', '.join(FILTERS)}}}"


def count_at(config: MixinConfig, code: int) -> str:
    q = PromQL(config)
    at_code = q.with_site(f"{q.metric('site_status_site_status')} == {code}", *FILTERS)
    return f"count({at_code}) or vector(0)"


def fleet_dashboard(config: MixinConfig) -> dict[str, Any]:
    q = PromQL(config)
    info = q.info()
    variables = [
        label_variable("cluster", info, "cluster", multi=True, title="Cluster"),
        label_variable(
            "environment", q.info(FILTERS[0]), "environment", multi=True, title="Environment"
        ),
        label_variable("tier", q.info(*FILTERS[:2]), "tier", multi=True, title="Tier"),
        label_variable("profile", q.info(*FILTERS[:3]), "profile", multi=True, title="Profile"),
    ]
    builder = dashboard(
        "Site status: fleet overview",
        config.fleet_dashboard_uid,
        "Every site's graded status, what fails, and availability over time.",
        variables,
        other_dashboard="Site detail",
    )
    builder = builder.with_panel(counts_panel(config)).with_panel(exporters_down_panel(config))
    builder = builder.with_panel(tiles_panel(config)).with_panel(timeline_panel(config))
    builder = builder.with_panel(not_ok_panel(config)).with_panel(worst_probes_panel(config))
    builder = builder.with_panel(availability_panel(config))
    builder = builder.with_panel(maintenance_panel(config, FILTERS, site_link(config)))
    builder = builder.with_panel(transitions_panel(config))
    builder = builder.with_panel(changes_panel(config))
    return to_document(builder)


def counts_panel(config: MixinConfig) -> stat.Panel:
    panel = (
        stat.Panel()
        .title("Sites by status")
        .description("How many sites are at each status now.")
        .unit("short")
        .height(4)
        .span(18)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "text")))
    )
    for code, (text, color) in list(STATUS_TEXT.items())[:4]:
        # The stat shows the last value only: one instant query, as the tiles.
        panel = panel.with_target(prom(count_at(config, code), text, ref=text).instant())
        panel = panel.override_by_name(
            text,
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": color}
                )
            ],
        )
    return panel


def exporters_down_panel(config: MixinConfig) -> stat.Panel:
    return (
        stat.Panel()
        .title("Exporters down")
        .description(
            "Scrape targets that do not answer: nothing is known about their sites. Counted "
            "from the recording rule, so up to one rule interval late; the tiles show which."
        )
        .unit("short")
        .height(4)
        .span(6)
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(thresholds((None, "green"), (1, "red")))
        .with_target(prom(f"count({recorded_down()}) or vector(0)", "down").instant())
    )


def tiles_panel(config: MixinConfig) -> stat.Panel:
    return (
        stat.Panel()
        .title("Sites")
        .description("One tile per site, coloured by its rollup. Click a tile for the site detail.")
        .unit("none")
        .height(10)
        .span(24)
        .mappings(value_mappings(STATUS_TEXT))
        .thresholds(thresholds((None, "green")))
        .color_mode(common_models.BigValueColorMode.BACKGROUND_SOLID)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .data_links([site_link(config)])
        # The tiles show the latest value: one instant query, not a range of them.
        .with_target(
            prom(site_status_by_site(config), "{{site}} ({{environment}}) {{cluster}}").instant()
        )
    )


def timeline_panel(config: MixinConfig) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title("Site status over time")
        .description("Each site's rollup over the time range.")
        .unit("none")
        .height(10)
        .span(24)
        .mappings(value_mappings(STATUS_TEXT))
        .thresholds(thresholds((None, "green")))
        .show_value(common_models.VisibilityMode.NEVER)
        .merge_values(True)
        .data_links([site_link(config)])
        .with_target(prom(site_status_over_time(), "{{site}} ({{environment}}) {{cluster}}"))
    )


def not_ok_panel(config: MixinConfig) -> table.Panel:
    q = PromQL(config)
    expr = q.with_site(f"{q.metric('site_status_probe_status')} > 0", *FILTERS)
    return (
        table.Panel()
        .title("Probes not OK now")
        .description("Every probe at WARNING, CRITICAL or UNKNOWN, worst first.")
        .unit("none")
        .height(9)
        .span(12)
        .mappings(value_mappings(STATUS_TEXT))
        .data_links([site_link(config)])
        .with_target(prom_table(expr))
        .with_transformation(organize_probe_columns())
        .sort_by([common_builders.TableSortByFieldState().display_name("status").desc(True)])
    )


def organize_probe_columns() -> model.DataTransformerConfig:
    return model.DataTransformerConfig(
        id_val="organize",
        options={
            "excludeByName": {"Time": True, "__name__": True, "job": True, "instance": True},
            "renameByName": {"Value": "status"},
            "indexByName": {
                "cluster": 0,
                "site": 1,
                "environment": 2,
                "tier": 3,
                "probe": 4,
                "kind": 5,
            },
        },
    )


def worst_probes_panel(config: MixinConfig) -> table.Panel:
    # The recording rule carries the site's labels: the filters select before topk, and no
    # subquery re-evaluates every probe of the fleet at every step.
    expr = f"topk(15, avg_over_time({PROBE_NOT_OK}{{{', '.join(FILTERS)}}}[$__range]))"
    return (
        table.Panel()
        .title("Worst probes over the time range")
        .description("The 15 probes that spent the largest share of the time range not OK.")
        .unit("percentunit")
        .height(9)
        .span(12)
        .data_links([site_link(config)])
        .with_target(prom_table(expr))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "job": True, "instance": True},
                    "renameByName": {"Value": "time not OK"},
                },
            )
        )
        .sort_by([common_builders.TableSortByFieldState().display_name("time not OK").desc(True)])
    )


def availability_panel(config: MixinConfig) -> table.Panel:
    filters = ", ".join(FILTERS)
    panel = (
        table.Panel()
        .title("Availability and reliability")
        .description(
            "availability = time up / time known; reliability = time up outside maintenance / "
            "(time known - maintenance). Up: rollup OK or WARNING. Known: scraped and rollup "
            "not UNKNOWN. See docs/alerts.md."
        )
        .unit("percentunit")
        .decimals(3)
        .height(10)
        .span(24)
        .thresholds(thresholds((None, "red"), (0.99, "yellow"), (0.999, "green")))
        .cell_options(common_models.TableColoredBackgroundCellOptions())
        .data_links([site_link(config)])
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "renameByName": {
                        f"Value #{kind} {window}": f"{kind} {window}"
                        for window in config.availability_windows
                        for kind in ("availability", "reliability")
                    },
                },
            )
        )
        .sort_by(
            [
                common_builders.TableSortByFieldState().display_name(
                    f"availability {config.availability_windows[0]}"
                )
            ]
        )
    )
    for window in config.availability_windows:
        for kind, name in (("availability", availability_name), ("reliability", reliability_name)):
            panel = panel.with_target(
                prom_table(f"{name(window)}{{{filters}}}", ref=f"{kind} {window}")
            )
    return panel


def transitions_panel(config: MixinConfig) -> logs.Panel:
    return (
        logs.Panel()
        .title("Latest status changes")
        .description("Transition reports of the selected sites, newest first (Loki).")
        .unit("none")
        .height(12)
        .span(24)
        .show_time(True)
        .wrap_log_message(True)
        .sort_order(common_models.LogsSortOrder.DESCENDING)
        .with_target(logql(fleet_transitions_logql(config)))
    )


def fleet_transitions_logql(config: MixinConfig) -> str:
    selector = ", ".join(
        (
            config.loki_selector,
            FILTERS[0],
            'environment=~"$environment"',
            'tier=~"$tier"',
            'report_type="transition"',
        )
    )
    # The profile is in the line (site.profile), not a stream label: filter after parsing.
    return (
        f"{{{selector}}} | json{PROFILE_FILTER}"
        ' | line_format "{{.site_name}} {{.probe_name}}: {{.previous_status}} -> {{.status}}:'
        ' {{.summary}}"'
    )


def changes_panel(config: MixinConfig) -> timeseries.Panel:
    selector = ", ".join(
        (
            config.loki_selector,
            FILTERS[0],
            'environment=~"$environment"',
            'tier=~"$tier"',
            'report_type="transition"',
        )
    )
    return (
        timeseries.Panel()
        .title("Status changes by new status")
        .description("How many probes changed status per interval, by the status they changed to.")
        .unit("short")
        .height(8)
        .span(24)
        .draw_style(common_models.GraphDrawStyle.BARS)
        .stacking(common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL))
        .with_target(
            logql(
                f"sum by (status) (count_over_time({{{selector}}}"
                f' | json status="status", site_profile="site.profile"{PROFILE_FILTER}'
                " [$__interval]))"
            ).legend_format("{{status}}")
        )
    )
