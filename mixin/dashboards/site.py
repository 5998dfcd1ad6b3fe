"""Site detail: one site's probes over time, its resources, and why it fails (its Loki reports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import logs, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as model

from mixin.config import MixinConfig
from mixin.dashboards.common import (
    DRUPAL_SEVERITY_TEXT,
    STATUS_TEXT,
    dashboard,
    label_variable,
    logql,
    prom,
    prom_table,
    thresholds,
    to_document,
    value_mappings,
)
from mixin.promql import PromQL
from mixin.recording import availability_name, reliability_name

#: One site in one cluster: the cluster is an external label (absent on one Prometheus, where
#: Grafana's value of a variable without options, "", matches that).
CLUSTER = 'cluster="$cluster"'
SITE = (CLUSTER, 'site="$site"', 'environment="$environment"')
#: The chosen site's exporter(s), from the hidden $instance variable (Grafana's All: a regex of
#: every instance of the site, each escaped). Instances repeat across clusters: the cluster too.
INSTANCE = 'instance=~"$instance"'


@dataclass(frozen=True)
class SiteScoped(PromQL):
    """Every selector also names the site's exporter(s), so Prometheus loads only that site's
    series: the join on ``site_info{site="$site"}`` alone comes after it loaded the whole
    fleet's (842 ms p50 for "Probe runs" at 200 sites, docs/fleet.md). The join stays: it adds
    the site labels and keeps only the site if the regex ever matched more."""

    def metric(self, name: str, *matchers: str) -> str:
        return super().metric(name, CLUSTER, INSTANCE, *matchers)


def instance_variable(q: PromQL) -> Any:
    return (
        label_variable("instance", q.info(*SITE), "instance", multi=False, title="Exporter")
        .multi(True)
        .include_all(True)
        .hide(model.VariableHide.HIDE_VARIABLE)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )


def site_reports_logql(config: MixinConfig) -> str:
    selector = ", ".join((config.loki_selector, *SITE))
    return (
        f"{{{selector}}} | json"
        ' | line_format "{{.report_type}} {{.probe_name}} {{.status}}: {{.summary}}"'
    )


def site_changes_logql(config: MixinConfig) -> str:
    selector = ", ".join((config.loki_selector, *SITE, 'report_type="transition"'))
    return f'sum by (status) (count_over_time({{{selector}}} | json status="status" [$__interval]))'


def site_dashboard(config: MixinConfig) -> dict[str, Any]:
    q = PromQL(config)
    variables = [
        label_variable("cluster", q.info(), "cluster", multi=False, title="Cluster"),
        label_variable(
            "environment", q.info(CLUSTER), "environment", multi=False, title="Environment"
        ),
        label_variable(
            "site", q.info(CLUSTER, 'environment="$environment"'), "site", multi=False, title="Site"
        ),
        instance_variable(q),
    ]
    builder = dashboard(
        "Site status: site detail",
        config.site_dashboard_uid,
        "One site: its probes over time, its resources, and its status reports.",
        variables,
        other_dashboard="Fleet overview",
    )
    for panel in panels(config):
        builder = builder.with_panel(panel)
    return to_document(builder)


def on_site(q: PromQL, expr: str) -> str:
    return q.with_site(expr, *SITE)


def panels(config: MixinConfig) -> list[Any]:
    q = SiteScoped(config)
    return [
        status_panel(q),
        ratio_panel(config, "Availability", availability_name),
        ratio_panel(config, "Reliability", reliability_name),
        maintenance_panel(q),
        probe_timeline_panel(q),
        drupal_requirements_panel(q),
        drupal_versions_panel(q),
        filesystem_panel(
            q,
            "Filesystem space used",
            "site_status_disk_available_bytes",
            "site_status_disk_size_bytes",
        ),
        filesystem_panel(
            q, "Filesystem inodes used", "site_status_disk_inodes_free", "site_status_disk_inodes"
        ),
        mount_panel(q),
        healthz_latency_panel(q),
        certificate_panel(q),
        load_panel(q),
        probe_runs_panel(q),
        report_delivery_panel(q),
        reports_panel(config),
        changes_panel(config),
    ]


def status_panel(q: PromQL) -> stat.Panel:
    return (
        stat.Panel()
        .title("Site status")
        .description("The rollup: the worst probe, CRITICAL > UNKNOWN > WARNING > OK.")
        .unit("none")
        .height(4)
        .span(6)
        .mappings(value_mappings(STATUS_TEXT))
        .thresholds(thresholds((None, "green")))
        .color_mode(common_models.BigValueColorMode.BACKGROUND_SOLID)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(prom(on_site(q, q.metric("site_status_site_status")), "{{site}}"))
    )


def ratio_panel(config: MixinConfig, title: str, name: Any) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(
            "availability = time up / time known; reliability = time up outside maintenance / "
            "(time known - maintenance). See docs/alerts.md."
        )
        .unit("percentunit")
        .decimals(3)
        .height(4)
        .span(6)
        .thresholds(thresholds((None, "red"), (0.99, "yellow"), (0.999, "green")))
        .color_mode(common_models.BigValueColorMode.VALUE)
        .text_mode(common_models.BigValueTextMode.VALUE_AND_NAME)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )
    for window in config.availability_windows:
        expr = f"{name(window)}{{{', '.join(SITE)}}}"
        panel = panel.with_target(prom(expr, window, ref=window))
    return panel


def maintenance_panel(q: PromQL) -> stat.Panel:
    return (
        stat.Panel()
        .title("Maintenance window")
        .description("Whether the site is inside a declared maintenance window (alerts muted).")
        .unit("none")
        .height(4)
        .span(6)
        .mappings(value_mappings({0: ("no", "green"), 1: ("in maintenance", "blue")}))
        .thresholds(thresholds((None, "green")))
        .color_mode(common_models.BigValueColorMode.BACKGROUND_SOLID)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(prom(on_site(q, q.metric("site_status_maintenance")), "maintenance"))
    )


def probe_timeline_panel(q: PromQL) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title("Probe status")
        .description("Each probe's status over time; hover for the exact change.")
        .unit("none")
        .height(10)
        .span(24)
        .mappings(value_mappings(STATUS_TEXT))
        .thresholds(thresholds((None, "green")))
        .show_value(common_models.VisibilityMode.NEVER)
        .merge_values(True)
        .with_target(prom(on_site(q, q.metric("site_status_probe_status")), "{{probe}} ({{kind}})"))
    )


def drupal_requirements_panel(q: PromQL) -> table.Panel:
    expr = on_site(q, f"{q.metric('site_status_drupal_requirement_severity')} >= 0")
    return (
        table.Panel()
        .title("Drupal requirements")
        .description(
            "drush core-requirements, one row per requirement, errors first (info rows left "
            "out). Titles and descriptions are in the reports below."
        )
        .unit("none")
        .height(10)
        .span(14)
        .mappings(value_mappings(DRUPAL_SEVERITY_TEXT))
        .cell_options(common_models.TableColoredBackgroundCellOptions())
        .with_target(prom_table(expr))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {
                        "Time": True,
                        "__name__": True,
                        "job": True,
                        "instance": True,
                        "cluster": True,
                        "site": True,
                        "environment": True,
                        "tier": True,
                        "profile": True,
                    },
                    "renameByName": {"Value": "severity"},
                },
            )
        )
        .sort_by([common_builders.TableSortByFieldState().display_name("severity").desc(True)])
    )


def drupal_versions_panel(q: PromQL) -> table.Panel:
    return (
        table.Panel()
        .title("Drupal, PHP and Drush versions")
        .description("From drush status, per drupal probe.")
        .unit("none")
        .height(10)
        .span(10)
        .with_target(prom_table(on_site(q, q.metric("site_status_drupal_info"))))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {
                        "Time": True,
                        "Value": True,
                        "__name__": True,
                        "job": True,
                        "instance": True,
                        "cluster": True,
                        "site": True,
                        "environment": True,
                        "tier": True,
                        "profile": True,
                    },
                },
            )
        )
    )


def filesystem_panel(q: PromQL, title: str, free: str, size: str) -> timeseries.Panel:
    used = f"1 - {q.metric(free)} / {q.metric(size)}\nand {q.metric(size)} > 0"
    return (
        timeseries.Panel()
        .title(title)
        .description("Share used per mount point; the alerts predict when it reaches 100 %.")
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(8)
        .span(12)
        .thresholds(thresholds((None, "green"), (0.8, "yellow"), (0.9, "red")))
        .with_target(prom(on_site(q, used), "{{mountpoint}}"))
    )


def mount_panel(q: PromQL) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title("Mounts")
        .description("Each checked mount: stale handle, hung or missing mounts are CRITICAL.")
        .unit("none")
        .height(6)
        .span(24)
        .mappings(value_mappings(STATUS_TEXT))
        .thresholds(thresholds((None, "green")))
        .show_value(common_models.VisibilityMode.NEVER)
        .merge_values(True)
        .with_target(prom(on_site(q, q.metric("site_status_mount_status")), "{{mountpoint}}"))
    )


def healthz_latency_panel(q: PromQL) -> timeseries.Panel:
    expr = f"sum by (probe) ({on_site(q, q.metric('site_status_http_duration_seconds'))})"
    return (
        timeseries.Panel()
        .title("Healthz latency")
        .description("Whole request time of each http probe (connect, TLS, wait, body).")
        .unit("s")
        .height(8)
        .span(12)
        .with_target(prom(expr, "{{probe}}"))
    )


def certificate_panel(q: PromQL) -> stat.Panel:
    days = f"({q.metric('site_status_tls_cert_expiry_timestamp_seconds')} - time()) / 86400"
    return (
        stat.Panel()
        .title("Certificate days left")
        .description("Days until each probed TLS certificate expires.")
        .unit("d")
        .decimals(1)
        .height(8)
        .span(12)
        .thresholds(thresholds((None, "red"), (3, "orange"), (14, "yellow"), (21, "green")))
        .color_mode(common_models.BigValueColorMode.BACKGROUND)
        .graph_mode(common_models.BigValueGraphMode.NONE)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(prom(on_site(q, days), "{{probe}}"))
    )


def load_panel(q: PromQL) -> timeseries.Panel:
    on_probe = f"on({', '.join((*q.config.target_key, 'probe'))})"
    expr = (
        f"{q.metric('site_status_load_average')}\n/ {on_probe} group_left\n"
        f"  {q.metric('site_status_load_cpus')}"
    )
    return (
        timeseries.Panel()
        .title("Load per CPU")
        .description("Load averages divided by the CPUs the container may use.")
        .unit("short")
        .height(8)
        .span(12)
        .with_target(prom(on_site(q, expr), "{{window}}"))
    )


def probe_runs_panel(q: PromQL) -> timeseries.Panel:
    runs = per_second(q, "site_status_probe_runs_total", "kind", "status")
    return (
        timeseries.Panel()
        .title("Probe runs")
        .description("Finished probe runs per second, by kind and raw status.")
        .unit("ops")
        .height(8)
        .span(12)
        .with_target(prom(on_site(q, runs), "{{kind}} {{status}}"))
    )


def per_second(q: PromQL, counter: str, *labels: str) -> str:
    """A counter's rate, summed keeping the target labels (so it can be joined with the site)."""
    by = ", ".join((*q.config.target_key, *labels))
    return f"sum by ({by}) (rate({q.metric(counter)}[$__rate_interval]))"


def report_delivery_panel(q: PromQL) -> timeseries.Panel:
    pushed = per_second(q, "site_status_reports_pushed_total")
    retried = per_second(q, "site_status_reports_retried_total")
    dropped = per_second(q, "site_status_reports_dropped_total", "reason")
    return (
        timeseries.Panel()
        .title("Report delivery to Loki")
        .description("Reports pushed, retried and dropped per second; queued reports on the right.")
        .unit("ops")
        .height(8)
        .span(24)
        .with_target(prom(on_site(q, pushed), "pushed", ref="pushed"))
        .with_target(prom(on_site(q, retried), "retried", ref="retried"))
        .with_target(prom(on_site(q, dropped), "dropped ({{reason}})", ref="dropped"))
        .with_target(
            prom(on_site(q, q.metric("site_status_reports_queued")), "queued", ref="queued")
        )
        .override_by_name(
            "queued",
            [
                model.DynamicConfigValue(id_val="unit", value="short"),
                model.DynamicConfigValue(id_val="custom.axisPlacement", value="right"),
            ],
        )
    )


def reports_panel(config: MixinConfig) -> logs.Panel:
    return (
        logs.Panel()
        .title("Latest status reports")
        .description("Transitions and snapshots of this site from Loki, newest first.")
        .unit("none")
        .height(14)
        .span(24)
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(common_models.LogsSortOrder.DESCENDING)
        .with_target(logql(site_reports_logql(config)))
    )


def changes_panel(config: MixinConfig) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Status changes by new status")
        .description("Transition reports per interval, by the status the probe changed to.")
        .unit("short")
        .height(8)
        .span(24)
        .draw_style(common_models.GraphDrawStyle.BARS)
        .with_target(logql(site_changes_logql(config)).legend_format("{{status}}"))
    )
