"""The alerting rules: what pages, what waits, and what each alert tells the person who reads it.

Every alert carries ``severity``, the site's labels (``site``, ``environment``, ``tier``,
``profile``), a summary, a description that says where to look, a ``runbook_url`` to
``docs/runbooks/<alertname>.md`` and a ``dashboard_url`` to the site detail dashboard. Every
alert is muted while its site is in a declared maintenance window (``site_status_maintenance``).

The same rules run on each cluster's Prometheus or on a shared store's ruler (docs/clusters.md).
There the cluster is a label of every series (``$labels.cluster``); on a cluster's own
Prometheus it is only an external label (``$externalLabels.cluster``), added when the alert is
sent. Texts and links name it from whichever has it, so an alert reads the same both ways; the
queries inside templates match ``$labels.cluster`` only, which is empty (no label) locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mixin.causes import RETIRED, own_warnings, reasons_at, unless_retired
from mixin.config import MixinConfig
from mixin.promql import SITE_LABELS, PromQL
from mixin.recording import MAINTENANCE

Severity = Literal["critical", "warning", "info"]


@dataclass(frozen=True)
class Alert:
    name: str
    severity: Severity
    expr: str
    for_: str
    summary: str
    description: str
    #: Keep firing this long after the condition ends (Prometheus 2.42+).
    keep_firing_for: str | None = None
    #: The dashboard the alert links to; the site detail dashboard unless set.
    dashboard_url: str | None = None
    #: Not about one site (a node, a fleet): no site dashboard, no Loki query of its reports.
    fleet_level: bool = False

    def rule(self, config: MixinConfig) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.for_ not in ("0s", "0m"):
            rule["for"] = self.for_
        if self.keep_firing_for is not None:
            rule["keep_firing_for"] = self.keep_firing_for
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{config.runbook_url_base}/{self.name}.md",
            "dashboard_url": self.dashboard_url or site_dashboard_link(config),
        }
        if not self.fleet_level:
            # The site's latest reports: the whole story of each probe, summaries included.
            rule["annotations"]["loki_query"] = loki_hint(config)
        return rule


def with_cluster(config: MixinConfig, text: str) -> str:
    """A template that writes ``text`` with ``{{ . }}`` as the alert's cluster, or nothing
    where there is none (one Prometheus without external labels)."""
    label = config.cluster_label
    return f"{{{{ with or $labels.{label} $externalLabels.{label} }}}}{text}{{{{ end }}}}"


def site_dashboard_link(config: MixinConfig) -> str:
    return (
        f"{config.grafana_url}/d/{config.site_dashboard_uid}/site-status-site"
        "?var-environment={{ $labels.environment }}&var-site={{ $labels.site }}"
        + with_cluster(config, "&var-cluster={{ . }}")
    )


def site_text(config: MixinConfig) -> str:
    """``shop (prod, priprod)``, or ``shop (prod, priprod, cluster dr)`` on many clusters."""
    cluster = with_cluster(config, ", cluster {{ . }}")
    return (
        f"{{{{ $labels.site }}}} ({{{{ $labels.environment }}}}, {{{{ $labels.tier }}}}{cluster})"
    )


def probes_at(promql: PromQL, code: int) -> str:
    """A template that lists the site's probes at a status (run by Prometheus at firing)."""
    target = promql.config.target_key
    matchers = ", ".join(f"{label}=%q" for label in target)
    values = " ".join(f"$labels.{label}" for label in target)
    query = f'printf "site_status_probe_status{{{matchers}}} == {code}" {values}'
    each = "{{ .Labels.probe }} {{ end }}"
    return f'{{{{ range {query} | query | sortByLabel "probe" }}}}{each}'


DRUPAL_KIND = 'probe_kind="drupal"'


def status_is(status: str) -> str:
    return f'status="{status}"'


def loki_hint(config: MixinConfig, *matchers: str) -> str:
    """The LogQL of the site's transition reports; ``matchers`` filter fields of the line
    (status and kind are in the JSON line, not stream labels: docs/reports.md)."""
    labels = ", ".join(
        (
            config.loki_selector,
            'site="{{ $labels.site }}"',
            'environment="{{ $labels.environment }}"',
            'report_type="transition"',
        )
    )
    # The exporter's reports carry the cluster as a stream label where it is configured.
    cluster = with_cluster(config, f', {config.cluster_label}="{{{{ . }}}}"')
    return " | ".join((f"{{{labels}{cluster}}}", "json", *matchers))


def site_alerts(config: MixinConfig, q: PromQL) -> list[Alert]:
    durations = config.for_
    site = site_text(config)
    status = q.metric("site_status_site_status")
    return [
        Alert(
            "SiteStatusSiteCritical",
            "critical",
            unless_retired(config, q.unless_maintenance(q.with_site(f"{status} == 2"))),
            durations.site_critical,
            f"{site} is CRITICAL: {reasons_at(q, '== 2')}",
            f"The site's rollup has been CRITICAL for {durations.site_critical}. Critical "
            f"probes, with why: {reasons_at(q, '== 2')}. Their summaries are in the site "
            "detail dashboard (probe status timeline and latest reports) and in Loki: "
            f"{loki_hint(config, status_is('CRITICAL'))}.",
        ),
        Alert(
            "SiteStatusSiteDegraded",
            "warning",
            q.unless_maintenance(q.with_site(f"{status} == 1"))
            + f"\nand {q.on_target}\n  ({own_warnings(config)})",
            durations.site_degraded,
            f"{site} has been WARNING for {durations.site_degraded}: {reasons_at(q, '> 0')}",
            "The site works but needs attention. Probes not OK, with why: "
            f"{reasons_at(q, '> 0')}. A warning many sites share (SiteStatusWarningShared) "
            "and the node's load (SiteStatusLoadHigh) are told once for all and do not make "
            "this alert. The summaries are in the site detail dashboard and in Loki: "
            f"{loki_hint(config, status_is('WARNING'))}.",
        ),
        Alert(
            "SiteStatusSiteUnknown",
            "warning",
            q.unless_maintenance(q.with_site(f"{status} == 3")),
            durations.site_unknown,
            f"{site} status is UNKNOWN: {reasons_at(q, '== 3')}",
            "The exporter cannot decide the site's status, so this time counts as unknown "
            f"in availability. Probes at UNKNOWN, with why: {reasons_at(q, '== 3')} (error: "
            "the probe failed; timeout; stale: no fresh result; blocked: by another probe). "
            "The summaries are in the site detail dashboard and in Loki: "
            f"{loki_hint(config, status_is('UNKNOWN'))}.",
        ),
        Alert(
            "SiteStatusProbesStale",
            "warning",
            q.unless_maintenance(q.with_site(f"{q.metric('site_status_probes_stale')} > 0")),
            durations.probes_stale,
            f"{site} has {{{{ $value }}}} probe(s) without a fresh result",
            "A probe result older than 3 intervals is reported as UNKNOWN: the probe did "
            f"not finish. Probes at UNKNOWN: {probes_at(q, 3)}. Check the exporter's "
            "/status and log for timeouts and stuck mounts (site_status_mount_stuck), and "
            "the exporter's concurrency limit.",
        ),
    ]


def exporter_alerts(config: MixinConfig, q: PromQL) -> list[Alert]:
    durations = config.for_
    site = site_text(config)
    lookback = config.identity_lookback
    labels = ", ".join(SITE_LABELS)
    site_labels = ", ".join(q.site_labels)
    up = q.metric("up")
    remembered = q.remembered_info()
    identity = q.last_identity()
    maintenance_lately = (
        f"last_over_time({q.metric('site_status_maintenance')}[{config.maintenance_lookback}])"
    )
    down = (
        f"(({up} == 0)\n  * {q.on_target} group_left({labels})\n  {identity}\n"
        f"or {q.on_target}\n"
        # Never seen (or forgotten): still an alert, named after the target, tier unknown.
        f'  label_replace(label_replace({up} == 0, "site", "$1", "instance", "(.*)"),'
        ' "tier", "unknown", "", ""))\n'
        f"unless {q.on_target}\n  {maintenance_lately} == 1"
    )
    down = unless_retired(config, down)
    by_site = q.on_site
    # A retired site's namespace is gone or scaled to zero (kube-state-metrics): nobody to page.
    kept = f"({remembered}\n  unless on({config.cluster_label}, namespace) {RETIRED})"
    absent = (
        f"max by ({site_labels}) {kept}\n"
        f"unless {by_site}\n  {q.info()}\n"
        # A target that is still scraped but down is SiteStatusExporterDown's.
        f"unless {by_site}\n  ({remembered} * {q.on_target} group_left {up})\n"
        f"unless {by_site}\n  (last_over_time({MAINTENANCE}[{config.maintenance_lookback}]) == 1)"
    )
    reload_failed = q.metric("site_status_config_last_reload_successful")
    return [
        Alert(
            "SiteStatusExporterDown",
            "critical",
            down,
            durations.exporter_down,
            f"The site-status exporter of {site} does not answer",
            "Prometheus cannot scrape {{ $labels.instance }}, so nothing is known about "
            "the site: its probes' alerts cannot fire. Check the exporter's pod or service "
            "(crash loop, OOM kill, network policy) and its log; /healthz tells whether its "
            "scheduler runs.",
        ),
        Alert(
            "SiteStatusExporterAbsent",
            "critical",
            absent,
            durations.exporter_absent,
            f"No site-status exporter is scraped for {site}",
            f"The site was scraped within the last {lookback} but no target reports it now: "
            "the exporter's workload was removed or service discovery lost it (ServiceMonitor, "
            "labels, namespace selector). A site retired on purpose (its namespace deleted, "
            "or its workloads scaled to zero, as kube-state-metrics sees them) does not alert; "
            f"without kube-state-metrics it ends by itself after {lookback}.",
        ),
        Alert(
            "SiteStatusConfigReloadFailed",
            "warning",
            q.unless_maintenance(q.with_site(f"{reload_failed} == 0")),
            durations.config_reload_failed,
            f"The site-status config of {site} failed to reload",
            "The exporter keeps running the last good config, so changes are not in force. "
            "`site-status validate --config FILE` names every error with its YAML path; the "
            "exporter's log has the same.",
        ),
    ]


def resource_alerts(config: MixinConfig, q: PromQL) -> list[Alert]:
    durations = config.for_
    site = site_text(config)
    limits = config.thresholds
    window = limits.filesystem_prediction_window

    def filling(kind: str, free: str, size: str, severity: Severity) -> Alert:
        percent = getattr(limits, f"filesystem_{severity}_available_percent")
        hours = getattr(limits, f"filesystem_{severity}_hours")
        free_m, size_m = q.metric(free), q.metric(size)
        expr = (
            f"{free_m} / {size_m} * 100 < {percent:g}\n"
            f"and predict_linear({free_m}[{window}], {hours:g} * 3600) < 0\n"
            f"and {size_m} > 0"
        )
        noun = "inodes" if kind == "inodes" else "space"
        name = (
            "SiteStatusFilesystemInodesFillingUp"
            if kind == "inodes"
            else "SiteStatusFilesystemSpaceFillingUp"
        )
        return Alert(
            name,
            severity,
            q.unless_maintenance(q.with_site(expr)),
            durations.filesystem_filling,
            f"{{{{ $labels.mountpoint }}}} of {site} runs out of {noun} within {hours:g}h",
            f'Only {{{{ printf "%.1f" $value }}}}% of the {noun} of {{{{ $labels.mountpoint }}}} '
            f"is left and at the rate of the last {window} it is gone within {hours:g} hours. "
            "Find what grows (logs, caches, uploads, backups) before the site stops writing; "
            "the site detail dashboard shows the trend.",
        )

    cert_days = f"({q.metric('site_status_tls_cert_expiry_timestamp_seconds')} - time()) / 86400"

    def certificate(severity: Severity, days: float, for_: str) -> Alert:
        return Alert(
            "SiteStatusCertificateExpiring",
            severity,
            q.unless_maintenance(q.with_site(f"{cert_days} < {days:g}")),
            for_,
            f"The TLS certificate of {{{{ $labels.probe }}}} on {site} expires in "
            '{{ printf "%.1f" $value }} days',
            "Renew the certificate the probe's endpoint serves (cert-manager Certificate and "
            "its events, the ACME account, or the manual renewal) before clients refuse it.",
        )

    load = q.metric("site_status_load_average", f'window="{limits.load_window}"')
    cpus = q.metric("site_status_load_cpus")
    on_probe = f"on({', '.join((*config.target_key, 'probe'))})"
    return [
        filling(
            "space", "site_status_disk_available_bytes", "site_status_disk_size_bytes", "warning"
        ),
        filling(
            "space", "site_status_disk_available_bytes", "site_status_disk_size_bytes", "critical"
        ),
        filling("inodes", "site_status_disk_inodes_free", "site_status_disk_inodes", "warning"),
        filling("inodes", "site_status_disk_inodes_free", "site_status_disk_inodes", "critical"),
        Alert(
            "SiteStatusMountFailing",
            "warning",
            q.unless_maintenance(q.with_site(f"{q.metric('site_status_mount_status')} == 2")),
            durations.mount_failing,
            f"Mount {{{{ $labels.mountpoint }}}} of {site} is stale, hung or missing",
            "The mount probe found a stale file handle, a statvfs that did not return, or the "
            "mount point not mounted. Check the NFS/CIFS server and the node's mount; "
            "the probe's summary in the site detail dashboard says which.",
        ),
        Alert(
            "SiteStatusMountHung",
            "warning",
            q.unless_maintenance(q.with_site(f"{q.metric('site_status_mount_stuck')} == 1")),
            durations.mount_hung,
            f"A call on {{{{ $labels.mountpoint }}}} of {site} has not returned",
            "A filesystem call of the exporter is blocked in the kernel on this mount (a "
            "hard-mounted NFS whose server is gone): no new call is started on it and probes "
            "on it report UNKNOWN. Check the file server and the node's mount.",
        ),
        certificate("warning", limits.certificate_warning_days, durations.certificate_warning),
        certificate("critical", limits.certificate_critical_days, durations.certificate_critical),
        load_high(config, q, f"{load}\n  / {on_probe} group_left\n  {cpus}"),
    ]


def load_high(config: MixinConfig, q: PromQL, per_cpu: str) -> Alert:
    """Load is the node's, not the site's: one alert per node (``site_status_node_info``),
    with the highest load per CPU its exporters see and the sites on it."""
    limits, durations = config.thresholds, config.for_
    cluster = config.cluster_label
    on_node = f"{q.on_target} group_left(node)\n  {q.metric('site_status_node_info')}"
    per_target = q.unless_maintenance(f"({per_cpu})\n* {on_node}")
    expr = f"max by ({cluster}, node) (\n{per_target}\n) > {limits.load_per_cpu:g}"
    on_it = (
        f"site_status_node_info{{{cluster}=%q, node=%q}} * on({', '.join(config.target_key)}) "
        "group_left(site) site_status_site_info"
    )
    args = f"$labels.{cluster} $labels.node"
    sites = (
        f'{{{{ range $i, $s := printf "{on_it}" {args} | query | sortByLabel "site" }}}}'
        "{{ if lt $i 10 }}{{ if $i }}, {{ end }}{{ .Labels.site }}{{ end }}{{ end }}"
    )
    count = f'{{{{ with printf "count({on_it})" {args} | query }}}}{{{{ . | first | value }}}}'
    where = with_cluster(config, " (cluster {{ . }})")
    return Alert(
        "SiteStatusLoadHigh",
        "warning",
        expr,
        durations.load_high,
        f'Node {{{{ $labels.node }}}}{where}: load per CPU is {{{{ printf "%.2f" $value }}}}',
        f"The {limits.load_window} load average per CPU on node {{{{ $labels.node }}}} has "
        f"been above {limits.load_per_cpu:g} for {durations.load_high}: requests queue on "
        f"every site there. One message per node, not per site: sites on it: {count}{{{{ end }}}} "
        f'({sites}{{{{ with printf "count({on_it}) > 10" {args} | query }}}}, ...{{{{ end }}}}). '
        "Look for runaway processes (cron, drush, backups), CPU limits that are too low, and "
        "noisy neighbours on the node.",
        dashboard_url=fleet_dashboard_link(config),
        fleet_level=True,
    )


def fleet_dashboard_link(config: MixinConfig) -> str:
    return f"{config.grafana_url}/d/{config.fleet_dashboard_uid}/site-status-fleet" + with_cluster(
        config, "?var-cluster={{ . }}"
    )


def drupal_and_report_alerts(config: MixinConfig, q: PromQL) -> list[Alert]:
    durations = config.for_
    site = site_text(config)
    limits = config.thresholds
    queued = q.metric("site_status_reports_queued")
    last_success = q.metric("site_status_reports_last_success_timestamp_seconds")
    dropped = q.metric("site_status_reports_dropped_total")
    return [
        Alert(
            "SiteStatusDrupalRequirementError",
            "warning",
            q.unless_maintenance(
                q.with_site(f"{q.metric('site_status_drupal_requirement_severity')} == 2")
            ),
            durations.drupal_requirement_error,
            f"Drupal requirement {{{{ $labels.requirement }}}} of {site} is an error",
            "drush core-requirements lists this requirement with severity error (the status "
            "report at /admin/reports/status shows the same) and the probe's severity_overrides "
            "do not grade it lower. The site detail dashboard lists it in Drupal requirements; "
            "its title and value are in the probe's summary in Latest status reports, and its "
            "title, value and description in the report's details.problems, in Loki: "
            f"{loki_hint(config, DRUPAL_KIND)}.",
        ),
        Alert(
            "SiteStatusReportDeliveryFailing",
            "warning",
            q.unless_maintenance(
                q.with_site(
                    f"{queued} > 0\nand (time() - {last_success}) > "
                    f"{limits.report_delivery_seconds:g}"
                )
            ),
            durations.report_delivery_failing,
            f"Status reports of {site} are not reaching Loki",
            "{{ $value }} reports wait in the exporter's queue and none was pushed for "
            f"{limits.report_delivery_seconds:g} s. Check Loki's push endpoint from the "
            "exporter (network, tenant, 429 rate limits) and the exporter's log; the spool "
            "keeps reports until it is full.",
        ),
        Alert(
            "SiteStatusReportsDropped",
            "warning",
            q.unless_maintenance(
                q.with_site(f"increase({dropped}[{limits.reports_dropped_window}]) > 0")
            ),
            durations.reports_dropped,
            f"Status reports of {site} were dropped ({{{{ $labels.reason }}}})",
            "Reports were lost for good (Loki answered 400/413, the spool was full, or they "
            "were too old). The reason label says which; the exporter's log names the "
            "rejected report.",
        ),
    ]


def all_alerts(config: MixinConfig) -> list[Alert]:
    q = PromQL(config)
    return [
        *site_alerts(config, q),
        *exporter_alerts(config, q),
        *resource_alerts(config, q),
        *drupal_and_report_alerts(config, q),
    ]
