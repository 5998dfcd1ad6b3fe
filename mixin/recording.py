"""Recording rules for availability and reliability per site, the way grid operations count them.

Each ``state_interval`` the state of every scraped site is sampled as 0/1 series (one sample =
one unit of time); the window rules add them up:

- known: the target was scraped (``up == 1``) and the rollup is not UNKNOWN;
- up: known, and the rollup is OK or WARNING;
- maintenance: known, and the site is inside a declared maintenance window;
- up outside maintenance: up, and not inside a window.

availability = time up / time known
reliability = time up outside maintenance / (time known - time in maintenance)

Time not scraped counts in neither (it is not known). Reliability counts up-time inside a window
in neither numerator nor denominator, so it can never exceed 1. Only the site's service hours
are sampled (``site_status_service_hours``: flexprod's office hours by default, every hour for
the other tiers): time outside them counts in nothing, like time not scraped.

Every sum keeps the cluster: the same site in two clusters is two sites, whether the rules run
on each cluster's Prometheus (where the cluster is added to the recorded series on the way out,
from its external labels) or on the shared store (where every series has it already).
"""

from __future__ import annotations

import textwrap
from typing import Any

from mixin.config import MixinConfig
from mixin.promql import SITE_LABELS, PromQL

KNOWN = "site_status_site:known"
UP = "site_status_site:up"
MAINTENANCE_KNOWN = "site_status_site:maintenance_known"
UP_OUTSIDE_MAINTENANCE = "site_status_site:up_outside_maintenance"
MAINTENANCE = "site_status_site:maintenance"
#: 1 inside the site's service hours (the exporter's site.service_hours, its tier's by default).
SERVICE_HOURS = "site_status_service_hours"
#: 1 while a probe is not OK, 0 while OK, with the site's labels: "worst probes over a range"
#: reads it with a plain avg_over_time (a subquery over every probe of a fleet costs 0.5 s).
PROBE_NOT_OK = "site_status_probe:not_ok"
#: 1 for each scrape target that does not answer, with the site it had when it last did (within
#: the identity lookback): "Exporters down" and SITE_STATUS read it instead of looking every
#: target's identity up over a day at every step (2 s p50 at 600 sites, docs/fleet.md).
EXPORTER_DOWN = "site_status_exporter:down"
#: Each site's rollup (the worst of its exporters), 4 while none answers: the fleet's status
#: timeline, read as it is. Any operation per step over 600 sites costs more than the target
#: (a join, an aggregation, even an ``or``: 0.3-2 s p50 under load, docs/fleet.md).
SITE_STATUS = "site_status_site:status"


def availability_name(window: str) -> str:
    return f"site_status_site:availability:ratio_{window}"


def reliability_name(window: str) -> str:
    return f"site_status_site:reliability:ratio_{window}"


def exporter_down(config: MixinConfig) -> str:
    """Down targets with their last known site; a target never seen answering has none, and is
    left out (its alert, SiteStatusExporterDown, names it by its instance)."""
    q = PromQL(config)
    labels = ", ".join(SITE_LABELS)
    down = f"({q.metric('up')} == 0) + 1"
    return f"({down})\n* {q.on_target} group_left({labels})\n  {q.last_identity()}"


def site_status(config: MixinConfig) -> str:
    """A site with an exporter that answers shows its rollup even if another of its targets is
    down (a pod being replaced); 4 only when none does."""
    q = PromQL(config)
    by = f"max by ({', '.join(q.site_labels)})"
    rollup = textwrap.indent(q.with_site(q.metric("site_status_site_status")), "  ")
    return f"{by} (\n{rollup}\n)\nor {by} ({EXPORTER_DOWN} * 4)"


def state_rules(config: MixinConfig) -> list[dict[str, Any]]:
    q = PromQL(config)
    status = q.metric("site_status_site_status")
    in_window = q.metric("site_status_maintenance")
    scraped = f"and {q.on_target} {q.metric('up')} == 1"
    # An exporter that does not publish its service hours (older than them) is served always.
    outside = f"unless {q.on_target} {q.metric(SERVICE_HOURS)} == 0"

    def sampled(expr: str) -> str:
        return f"{q.with_site(expr)}\n{scraped}\n{outside}"

    known = f"{status} != bool 3"
    probe_status = q.metric("site_status_probe_status")
    return [
        {"record": MAINTENANCE, "expr": q.with_site(in_window)},
        {"record": PROBE_NOT_OK, "expr": q.with_site(f"{probe_status} > bool 0")},
        {"record": EXPORTER_DOWN, "expr": exporter_down(config)},
        # After EXPORTER_DOWN: a group's rules run in order and read the same evaluation's.
        {"record": SITE_STATUS, "expr": site_status(config)},
        {"record": KNOWN, "expr": sampled(known)},
        {"record": UP, "expr": sampled(f"{status} <= bool 1")},
        {"record": MAINTENANCE_KNOWN, "expr": sampled(f"({in_window} == bool 1) * ({known})")},
        {
            "record": UP_OUTSIDE_MAINTENANCE,
            "expr": sampled(f"({in_window} == bool 0) * ({status} <= bool 1)"),
        },
    ]


def window_rules(config: MixinConfig) -> list[dict[str, Any]]:
    by_site = f"sum by ({', '.join(PromQL(config).site_labels)})"
    rules: list[dict[str, Any]] = []
    for window in config.availability_windows:

        def total(series: str, window: str = window) -> str:
            return f"{by_site} (sum_over_time({series}[{window}]))"

        rules.append(
            {
                "record": availability_name(window),
                "expr": f"{total(UP)}\n/\n({total(KNOWN)} > 0)",
            }
        )
        rules.append(
            {
                "record": reliability_name(window),
                "expr": (
                    f"{total(UP_OUTSIDE_MAINTENANCE)}\n/\n"
                    f"({total(KNOWN)}\n  - {total(MAINTENANCE_KNOWN)}\n  > 0)"
                ),
            }
        )
    return rules
