"""Why, in the alert's own words, and one message per cause (docs/alerts.md, docs/reasons.md).

Each exporter publishes ``site_status_probe_reason{probe, kind, reason, part}`` for every probe
that is not OK: a reason from a closed vocabulary and the bounded name of the failing part.
From it:

- the site alerts name each failing probe with its reason and part (``reasons_at``);
- ``site_status_probe:reason`` gives every such probe its site's labels, so that the fleet alert
  can say what the failing sites of a tier have in common (``in_common``) and warnings can be
  counted per cause;
- ``site_status_warning:sites`` counts, per cluster, tier and cause (kind, reason, part), the
  sites with that warning. From ``shared_min_sites`` sites on, the cause is *shared*: one
  ``SiteStatusWarningShared`` names it and lists the sites, and those sites' own
  ``SiteStatusSiteDegraded`` stays quiet for it. Load is left out: it is the node's, and
  ``SiteStatusLoadHigh`` alerts once per node;
- ``site_status_namespace:retired`` marks the namespaces of retired sites (deleted, or every
  workload but the exporter scaled to zero), from kube-state-metrics: they page nobody.
"""

from __future__ import annotations

from typing import Any

from mixin.config import MixinConfig
from mixin.promql import PromQL

PROBE_REASON = "site_status_probe:reason"
WARNING_SITES = "site_status_warning:sites"
RETIRED = "site_status_namespace:retired"
SHARED_WARNING_ALERT = "SiteStatusWarningShared"
#: What a cause is, within a cluster and a tier.
CAUSE_LABELS = ("kind", "reason", "part")
#: Reasons that are a node's, not a site's: never a site's warning nor a shared one.
NODE_REASONS = ("load",)


def reason_words(each: str = ".Labels") -> str:
    """``component database`` from the labels of one reason series (underscores as spaces)."""
    return (
        f'{{{{ reReplaceAll "_" " " {each}.reason }}}}'
        f"{{{{ with {each}.part }}}} {{{{ . }}}}{{{{ end }}}}"
    )


def reasons_at(q: PromQL, comparison: str) -> str:
    """A template listing the alert's site's probes whose status ``comparison`` holds, each
    with its reason and part: ``frontpage: component database; cron-stamp: age``."""
    target = q.config.target_key
    matchers = ", ".join(f"{label}=%q" for label in target)
    values = " ".join(f"$labels.{label}" for label in target)
    query = f'printf "site_status_probe_reason{{{matchers}}} {comparison}" {values}'
    each = f"{{{{ if $i }}}}; {{{{ end }}}}{{{{ .Labels.probe }}}}: {reason_words()}"
    return f'{{{{ range $i, $r := {query} | query | sortByLabel "probe" }}}}{each}{{{{ end }}}}'


def probe_reason_rule(config: MixinConfig) -> dict[str, Any]:
    """Every non-OK probe's reason with its site's labels; the value is its status code."""
    q = PromQL(config)
    return {"record": PROBE_REASON, "expr": q.with_site(q.metric("site_status_probe_reason"))}


def warning_sites_rule(config: MixinConfig) -> dict[str, Any]:
    """Per cluster, tier and cause, the sites (rollup WARNING, outside maintenance) with it."""
    q = PromQL(config)
    node_reasons = "|".join(NODE_REASONS)
    warned = (
        f'{PROBE_REASON}{{reason!~"{node_reasons}"}}\n'
        f"  and {q.on_target} {q.metric('site_status_site_status')} == 1\n"
        f"  unless {q.on_target} {q.metric('site_status_maintenance')} == 1"
    )
    by = ", ".join((config.cluster_label, "tier", *CAUSE_LABELS))
    return {"record": WARNING_SITES, "expr": f"count by ({by}) (\n  {warned}\n)"}


def shared_causes(config: MixinConfig) -> str:
    return f"{WARNING_SITES} >= {config.shared_min_sites}"


def own_warnings(config: MixinConfig) -> str:
    """The site's non-OK probes whose cause is neither a node's nor shared by many sites."""
    node_reasons = "|".join(NODE_REASONS)
    on_cause = ", ".join((config.cluster_label, "tier", *CAUSE_LABELS))
    return (
        f'{PROBE_REASON}{{reason!~"{node_reasons}"}}\n'
        f"  unless on({on_cause}) ({shared_causes(config)})"
    )


def retired_rule(config: MixinConfig) -> dict[str, Any]:
    """Namespaces of sites seen in the identity lookback that were retired on purpose.

    Deleted: kube-state-metrics answers and has no ``kube_namespace_created`` for it, or it is
    Terminating. Scaled to zero: every Deployment but the exporter's and every StatefulSet in it
    has ``spec.replicas`` 0. Without kube-state-metrics nothing is retired (and outside
    Kubernetes the exporters have no ``namespace`` label: nothing matches).
    """
    q = PromQL(config)
    ksm = config.kube_state_metrics_selector
    cluster = config.cluster_label
    by = f"by ({cluster}, namespace)"
    on = f"on({cluster}, namespace)"
    in_a_namespace = 'namespace!=""'
    remembered = f"last_over_time({q.info(in_a_namespace)}[{config.identity_lookback}])"
    ksm_up = f"max by ({cluster}) (up{{{ksm}}}) == 1"
    deleted = (
        f"(group {by} ({remembered})\n"
        f"  unless {on} kube_namespace_created{{{ksm}}})\n"
        f"  and on({cluster}) ({ksm_up})"
    )
    terminating = f'group {by} (kube_namespace_status_phase{{{ksm}, phase="Terminating"}} == 1)'
    workloads = (
        f'kube_deployment_spec_replicas{{{ksm}, deployment!="{config.exporter_workload}"}}\n'
        f"  or kube_statefulset_replicas{{{ksm}}}"
    )
    scaled = f"max {by} (\n  {workloads}\n) == 0"
    return {
        "record": RETIRED,
        "expr": f"group {by} (\n  {deleted}\nor\n  {terminating}\nor\n  {scaled}\n)",
    }


def unless_retired(config: MixinConfig, expr: str) -> str:
    """``expr`` without the series of retired sites' namespaces."""
    return f"{expr}\nunless on({config.cluster_label}, namespace)\n  {RETIRED}"


def in_common(config: MixinConfig, failing: str, limit: int) -> str:
    """A template naming the ``limit`` causes most failing sites of the alert's cluster and
    tier share: ``28 http component database; 24 drupal drush SQLSTATE[HY000] [2002]``,
    counting the sites whose exporter is not scraped as ``exporter not scraped``."""
    cluster = config.cluster_label
    on_site = f"on({cluster}, site, environment)"
    select = f"{{{cluster}=%q, tier=%q}}"
    # The query selects four times (reasons and failing sites, twice): the labels four times.
    args = f"$labels.{cluster} $labels.tier " * 4
    args = args.strip()
    by = ", ".join(CAUSE_LABELS)
    failing_here = f"{failing}{select}"
    blind = (
        f"label_replace(label_replace(count({failing_here} unless {on_site} "
        f'{PROBE_REASON}{select}), \\"kind\\", \\"exporter\\", \\"\\", \\"\\"), '
        f'\\"reason\\", \\"not_scraped\\", \\"\\", \\"\\")'
    )
    counted = (
        f"sort_desc(topk({limit}, count by ({by}) ({PROBE_REASON}{select} >= 2 "
        f"and {on_site} {failing_here}) or {blind}))"
    )
    each = "{{ if $i }}; {{ end }}{{ .Value }} {{ .Labels.kind }} " + reason_words() + "{{ end }}"
    return f'{{{{ range $i, $c := printf "{counted}" {args} | query }}}}{each}'


def shared_warning_alert(config: MixinConfig) -> dict[str, Any]:
    """One alert per shared warning cause; the rule dict (it is not per site)."""
    cluster = config.cluster_label
    select = ", ".join(f"{label}=%q" for label in (cluster, "tier", *CAUSE_LABELS))
    args = " ".join(f"$labels.{label}" for label in (cluster, "tier", *CAUSE_LABELS))
    listed = (
        f'{{{{ range $i, $s := printf "{PROBE_REASON}{{{select}}}" {args} | query '
        '| sortByLabel "site" }}{{ if $i }}, {{ end }}{{ .Labels.site }} '
        "({{ .Labels.environment }}){{ end }}"
    )
    where = (
        f"{{{{ with or $labels.{cluster} $externalLabels.{cluster} }}}} in cluster "
        "{{ . }}{{ end }}"
    )
    cause = "{{ $labels.kind }} " + reason_words("$labels")
    dashboard = (
        f"{config.grafana_url}/d/{config.fleet_dashboard_uid}/site-status-fleet"
        "?var-tier={{ $labels.tier }}"
    )
    return {
        "alert": SHARED_WARNING_ALERT,
        "expr": shared_causes(config),
        "for": config.for_.shared_warning,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f"{{{{ $value }}}} {{{{ $labels.tier }}}} sites{where} warn: {cause}",
            "description": (
                f"The same warning on {{{{ $value }}}} {{{{ $labels.tier }}}} sites{where}: "
                f"{cause}. One cause (a release, a shared certificate or backend), one message: "
                "these sites' own SiteStatusSiteDegraded leave it out while at least "
                f"{config.shared_min_sites} sites share it. Sites: {listed}."
            ),
            "runbook_url": f"{config.runbook_url_base}/{SHARED_WARNING_ALERT}.md",
            "dashboard_url": dashboard,
        },
    }
