"""The one place where the mixin's selectors, thresholds, durations and links are set.

Defaults here are what the committed files in ``alerts/`` and ``dashboards/`` are generated
from. A deployment that scrapes the exporter under another job name, or wants other limits,
writes a YAML file with the keys it changes and runs ``python -m mixin --config FILE --out DIR``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: The label that names a cluster: the ``external_labels`` key each cluster's Prometheus sets.
#: Every join, ``by``, template, dashboard variable and Alertmanager grouping carries it, so
#: that sites and exporters with the same name and ``instance`` in two clusters never meet on a
#: shared store (docs/clusters.md). On one Prometheus the series have no such label: it stays
#: empty, and everything works the same.
CLUSTER_LABEL = "cluster"

_PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def _prometheus_duration(value: str) -> str:
    if not _PROM_DURATION.match(value):
        raise ValueError(f"expected a Prometheus duration like 30s, 5m or 1h30m, got {value!r}")
    return value


PromDuration = Annotated[str, AfterValidator(_prometheus_duration)]

#: Hosts reserved for examples (RFC 2606, RFC 6761): a link to one never opens.
_EXAMPLE_HOST = re.compile(r"(^|\.)(example|example\.(com|net|org))$", re.IGNORECASE)


def _working_link(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {value!r}")
    if _EXAMPLE_HOST.search(parts.hostname):
        raise ValueError(
            f"{parts.hostname} is an example host: every alert's link would lead nowhere; "
            "set the URL your people open"
        )
    return value.rstrip("/")


#: A link that alerts carry: http(s), and not left at an example host.
Link = Annotated[str, AfterValidator(_working_link)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForDurations(Strict):
    """How long each condition must hold before its alert fires (the rules' ``for``)."""

    site_critical: PromDuration = "5m"
    site_degraded: PromDuration = "2h"
    site_unknown: PromDuration = "30m"
    probes_stale: PromDuration = "15m"
    exporter_down: PromDuration = "5m"
    exporter_absent: PromDuration = "10m"
    config_reload_failed: PromDuration = "15m"
    drupal_requirement_error: PromDuration = "30m"
    filesystem_filling: PromDuration = "1h"
    mount_failing: PromDuration = "5m"
    mount_hung: PromDuration = "5m"
    certificate_warning: PromDuration = "1h"
    certificate_critical: PromDuration = "10m"
    load_high: PromDuration = "30m"
    #: A warning shared by ``shared_min_sites`` sites of a tier (one notification for them all).
    shared_warning: PromDuration = "30m"
    report_delivery_failing: PromDuration = "15m"
    reports_dropped: PromDuration = "0s"
    #: Shorter than ``site_critical`` and ``exporter_down`` (minus evaluation and group wait), so
    #: the fleet alert is in Alertmanager, inhibiting, before the first per-site page is due.
    fleet_critical: PromDuration = "2m"
    #: The ticket-level burn (3 days at the budget's pace). The page-level burn has no setting:
    #: its ``for`` is ``site_critical`` plus two state intervals (mixin/slo.py says why).
    error_budget_slow_burn: PromDuration = "15m"


class Thresholds(Strict):
    filesystem_warning_available_percent: float = 40
    filesystem_warning_hours: float = 24
    filesystem_critical_available_percent: float = 20
    filesystem_critical_hours: float = 4
    filesystem_prediction_window: PromDuration = "6h"
    certificate_warning_days: float = 14
    certificate_critical_days: float = 3
    load_per_cpu: float = 2
    load_window: str = "15m"
    report_delivery_seconds: float = 900
    reports_dropped_window: PromDuration = "30m"


class Objective(Strict):
    """Service-level targets as ratios (0.995 = 99.5 %); None: no target, no budget, no alert."""

    availability: float | None = Field(default=None, gt=0, lt=1)
    reliability: float | None = Field(default=None, gt=0, lt=1)


class SiteObjective(Objective):
    """One site's own targets, instead of its tier's (in every environment unless named)."""

    site: str = Field(min_length=1)
    environment: str | None = None


def _default_tiers() -> dict[str, Objective]:
    return {
        "priprod": Objective(availability=0.995, reliability=0.995),
        "flexprod": Objective(availability=0.99, reliability=0.99),
        "besteffort": Objective(),
    }


class ServiceLevels(Strict):
    """Targets per tier, overridable per site (docs/alerts.md, "Service levels")."""

    tiers: dict[str, Objective] = Field(default_factory=_default_tiers)
    sites: tuple[SiteObjective, ...] = ()
    #: The month-to-date counters carry over a gap of Prometheus' own evaluations this long;
    #: after a longer one they start again from that moment (each evaluation reads this range).
    month_carry: PromDuration = "2h"


class MixinConfig(Strict):
    #: Label matchers that select the exporter's series (and its ``up``), without braces.
    selector: str = 'job="site-status"'
    #: Labels that identify one exporter (one scrape target) within one cluster: how probe
    #: series find their site.
    target_labels: tuple[str, ...] = ("job", "instance")
    #: Label matchers of the Loki report streams, without braces.
    loki_selector: str = 'job="site-status"'
    #: Grafana as the on-call person reaches it. The default is Grafana's own port on this
    #: machine: ``kubectl port-forward`` to the Grafana service (docs/operations.md).
    grafana_url: Link = "http://localhost:3000"
    #: Where ``<alert name>.md`` is. The default is a checkout served where the person reading
    #: the alert is: ``python3 -m http.server 8000`` in it serves docs/runbooks/ at this URL.
    runbook_url_base: Link = "http://localhost:8000/docs/runbooks"
    fleet_dashboard_uid: str = "site-status-fleet"
    site_dashboard_uid: str = "site-status-site"
    #: How far back the site identity of a target that stopped answering is remembered.
    identity_lookback: PromDuration = "1d"
    #: A target that said "maintenance" this recently keeps its alerts muted while it is down.
    maintenance_lookback: PromDuration = "1h"
    #: Evaluation interval of the rules that sample each site's state (the unit of time counted).
    state_interval: PromDuration = "1m"
    #: Evaluation interval of the 1d/7d/30d availability rules.
    window_interval: PromDuration = "5m"
    availability_windows: tuple[PromDuration, ...] = ("1d", "7d", "30d")
    #: This many sites of one tier failing at once (rollup CRITICAL, exporter down or absent)
    #: are one fleet incident: one page listing them instead of one page per site.
    fleet_min_sites: int = Field(default=3, ge=2)
    #: The fleet alert keeps firing this long after the count falls below ``fleet_min_sites``,
    #: so sites that recover last (or a count that flaps around the limit) do not page one by one.
    fleet_keep_firing_for: PromDuration = "10m"
    #: This many sites of a tier with the same warning (probe kind, reason and part) are one
    #: cause: one SiteStatusWarningShared instead of a SiteStatusSiteDegraded per site.
    shared_min_sites: int = Field(default=3, ge=2)
    #: Matchers of kube-state-metrics' series, without braces: how a retired site is known
    #: (its namespace deleted, or its workloads scaled to zero). Needs ``honorLabels: true``
    #: on its scrape (kube-prometheus-stack's default), so ``namespace`` is the object's.
    kube_state_metrics_selector: str = 'job="kube-state-metrics"'
    #: The exporter's own Deployment: left out when deciding that a site's workloads are all
    #: scaled to zero.
    exporter_workload: str = "site-status"
    service_levels: ServiceLevels = Field(default_factory=ServiceLevels)
    #: ``for`` of every alert; the end-to-end test renders the rules with short ones.
    for_: ForDurations = Field(default_factory=ForDurations, alias="for")
    thresholds: Thresholds = Field(default_factory=Thresholds)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def cluster_label(self) -> str:
        return CLUSTER_LABEL

    @property
    def target_key(self) -> tuple[str, ...]:
        """The labels of one exporter across clusters: the cluster, then ``target_labels``."""
        return (CLUSTER_LABEL, *self.target_labels)

    def with_all_for(self, duration: str) -> MixinConfig:
        """The same config with every ``for`` set to ``duration`` (for fast tests)."""
        every = dict.fromkeys(ForDurations.model_fields, duration)
        return self.model_copy(update={"for_": ForDurations.model_validate(every)})


def load_config(path: Path | None) -> MixinConfig:
    """The defaults, overlaid with the keys of a YAML file."""
    if path is None:
        return MixinConfig()
    data: Any = yaml.safe_load(path.read_text()) or {}
    return MixinConfig.model_validate(data)
