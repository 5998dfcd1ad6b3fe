"""Shared causes and lifecycle, unit-tested by promtool on the shipped rule files.

- A warning shared by ``shared_min_sites`` sites of a tier is one SiteStatusWarningShared, and
  those sites' own SiteStatusSiteDegraded leave it out; a site with a warning of its own, or a
  warning too few sites share, still gets its SiteStatusSiteDegraded.
- Retired sites (namespace deleted, or every workload but the exporter scaled to zero, as
  kube-state-metrics sees it) page nobody and do not count towards the fleet alert; a site
  whose target vanished while its namespace lives on still pages; without kube-state-metrics
  nothing counts as retired.
- A new site, whose probes have no result yet (reason ``pending``), is not paged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mixin.causes import RETIRED, SHARED_WARNING_ALERT, WARNING_SITES
from mixin.fleet import FAILING, FLEET_ALERT
from tests.mixin.test_fleet_rules import expect, group, write_tests
from tests.mixin.test_rules import promtool

MINUTES = 160
RUNBOOK = "http://localhost:8000/docs/runbooks"
KSM = 'job="kube-state-metrics"'

Values = Callable[[int], Any]


def per_minute(value_at: Values) -> str:
    return " ".join(str(value_at(minute)) for minute in range(MINUTES + 1))


def during(start: int, end: int, value: Any, otherwise: Any = "_") -> Values:
    def at(minute: int) -> Any:
        return value if start <= minute < end else otherwise

    return at


def until(end: int, value: Any) -> Values:
    """``value`` before ``end``, then gone (a staleness marker, as when a target vanishes)."""

    def at(minute: int) -> Any:
        return value if minute < end else "stale" if minute == end else "_"

    return at


def always(value: Any) -> Values:
    return lambda minute: value


def exporter(
    name: str,
    tier: str,
    *,
    status: Values,
    reasons: dict[str, Values] | None = None,
    maintenance: bool = False,
    scraped_until: int = MINUTES + 1,
) -> list[dict[str, str]]:
    """One site's exporter in namespace ``name``; ``reasons``: probe labels -> its values.
    After ``scraped_until`` its target is gone from discovery: no series at all."""
    target = f'job="site-status", instance="{name}:9918", namespace="{name}"'

    def scraped(value: Values) -> Values:
        def at(minute: int) -> Any:
            if minute >= scraped_until:
                return "stale" if minute == scraped_until else "_"
            return value(minute)

        return at

    info = f'site="{name}", environment="prod", tier="{tier}", profile="os2web"'
    series = [
        (f"site_status_site_info{{{target}, {info}}}", always(1)),
        (f"up{{{target}}}", always(1)),
        (f"site_status_maintenance{{{target}}}", always(1 if maintenance else 0)),
        (f"site_status_site_status{{{target}}}", status),
        *(
            (f"site_status_probe_reason{{{target}, {labels}}}", v)
            for labels, v in (reasons or {}).items()
        ),
    ]
    return [{"series": s, "values": per_minute(scraped(v))} for s, v in series]


def kube_state_metrics(
    up: Values, namespaces: dict[str, Values], replicas: dict[tuple[str, str], Values]
) -> list[dict[str, str]]:
    """kube-state-metrics' series: ``up``, each namespace's ``kube_namespace_created`` while it
    exists, and ``kube_deployment_spec_replicas`` per (namespace, deployment)."""
    series = [(f"up{{{KSM}}}", up)]
    series += [
        (f'kube_namespace_created{{{KSM}, namespace="{name}"}}', exists)
        for name, exists in namespaces.items()
    ]
    series += [
        (f'kube_deployment_spec_replicas{{{KSM}, namespace="{ns}", deployment="{d}"}}', count)
        for (ns, d), count in replicas.items()
    ]
    return [{"series": s, "values": per_minute(v)} for s, v in series]


UPDATES = 'probe="drupal", kind="drupal", reason="requirement", part="update_contrib"'
CRON = 'probe="cron-stamp", kind="file", reason="age", part=""'
HEALTHZ = 'probe="frontpage", kind="http", reason="component", part="database"'


def warned(name: str, tier: str, reason: str, *, maintenance: bool = False) -> list[dict[str, str]]:
    """WARNING from 2m to the end, for ``reason``."""
    return exporter(
        name,
        tier,
        status=during(2, MINUTES + 1, 1, 0),
        reasons={reason: during(2, MINUTES + 1, 1)},
        maintenance=maintenance,
    )


def firing(alertname: str, minute: int, sites: list[str]) -> dict[str, Any]:
    """At ``minute``, ``alertname`` fires for exactly ``sites`` (its ALERTS series)."""
    return {
        "expr": f'count by (site) (ALERTS{{alertname="{alertname}", alertstate="firing"}})',
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": f'{{site="{site}"}}', "value": 1} for site in sites],
    }


def shared_warning() -> dict[str, Any]:
    sites = [
        *(warned(f"web{n}", "flexprod", UPDATES) for n in range(1, 4)),
        warned("web4", "flexprod", UPDATES, maintenance=True),  # does not count
        warned("web5", "flexprod", CRON),  # a warning of its own
        *(warned(f"web{n}", "besteffort", UPDATES) for n in (6, 7)),  # 2: not shared
    ]
    shared = {
        "exp_labels": {
            "tier": "flexprod",
            "kind": "drupal",
            "reason": "requirement",
            "part": "update_contrib",
            "severity": "warning",
        },
        "exp_annotations": {
            "summary": "3 flexprod sites warn: drupal requirement update_contrib",
            "description": (
                "The same warning on 3 flexprod sites: drupal requirement update_contrib. One "
                "cause (a release, a shared certificate or backend), one message: these sites' "
                "own SiteStatusSiteDegraded leave it out while at least 3 sites share it. "
                "Sites: web1 (prod), web2 (prod), web3 (prod), web4 (prod)."
            ),
            "runbook_url": f"{RUNBOOK}/{SHARED_WARNING_ALERT}.md",
            "dashboard_url": (
                "http://localhost:3000/d/site-status-fleet/site-status-fleet?var-tier=flexprod"
            ),
        },
    }
    cause = 'kind="drupal", part="update_contrib", reason="requirement"'
    return group(
        "a warning on 3 flexprod sites: one shared alert, and no SiteStatusSiteDegraded for it",
        sites,
        promql_expr_test=[
            {
                "expr": WARNING_SITES,
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": f'{WARNING_SITES}{{{cause}, tier="flexprod"}}', "value": 3},
                    {"labels": f'{WARNING_SITES}{{{cause}, tier="besteffort"}}', "value": 2},
                    {
                        "labels": f'{WARNING_SITES}{{kind="file", part="", reason="age", '
                        'tier="flexprod"}',
                        "value": 1,
                    },
                ],
            },
            # 2h after 2m: only the site with its own warning and the two whose warning too
            # few share; web4 is in maintenance.
            firing("SiteStatusSiteDegraded", 130, ["web5", "web6", "web7"]),
        ],
        alert_rule_test=[
            expect(20, SHARED_WARNING_ALERT, []),
            expect(40, SHARED_WARNING_ALERT, [shared]),
        ],
    )


def lifecycle() -> dict[str, Any]:
    """At 10m: gone1-5's namespaces are deleted (their targets vanish); asleep's Drupal is
    scaled to zero (its exporter stays, the site turns CRITICAL); lost's target vanishes while
    its namespace lives on (a broken ServiceMonitor); fresh starts, its probes pending until
    12m, then OK."""
    gone = [f"gone{n}" for n in range(1, 6)]
    sites = [
        *(exporter(name, "priprod", status=always(0), scraped_until=10) for name in gone),
        exporter("lost", "priprod", status=always(0), scraped_until=10),
        exporter(
            "asleep",
            "priprod",
            status=during(10, MINUTES + 1, 2, 0),
            reasons={HEALTHZ: during(10, MINUTES + 1, 2)},
        ),
    ]
    fresh = 'job="site-status", instance="fresh:9918", namespace="fresh"'
    new_site: list[tuple[str, Values]] = [
        (
            f'site_status_site_info{{{fresh}, site="fresh", environment="prod", '
            'tier="priprod", profile="os2web"}',
            during(10, MINUTES + 1, 1),
        ),
        (f"up{{{fresh}}}", during(10, MINUTES + 1, 1)),
        (f"site_status_maintenance{{{fresh}}}", during(10, MINUTES + 1, 0)),
        (f"site_status_site_status{{{fresh}}}", lambda m: "_" if m < 10 else 3 if m < 12 else 0),
        (
            f'site_status_probe_reason{{{fresh}, probe="frontpage", kind="http", '
            'reason="pending", part=""}',
            lambda m: "_" if m < 10 else 3 if m < 12 else "stale" if m == 12 else "_",
        ),
    ]
    sites.append([{"series": s, "values": per_minute(v)} for s, v in new_site])
    namespaces: dict[str, Values] = {
        **{name: until(10, 1) for name in gone},
        "lost": always(1),
        "asleep": always(1),
        "fresh": during(10, MINUTES + 1, 1),
    }
    replicas: dict[tuple[str, str], Values] = {
        ("asleep", "drupal"): during(0, 10, 2, 0),
        ("asleep", "site-status"): always(1),
        ("lost", "drupal"): always(2),
    }
    sites.append(kube_state_metrics(always(1), namespaces, replicas))
    return group(
        "5 sites retired, one scaled to zero, one lost, one new: only the lost one pages",
        sites,
        promql_expr_test=[
            {
                "expr": RETIRED,
                "eval_time": "15m",
                "exp_samples": [
                    {"labels": f'{RETIRED}{{namespace="{name}"}}', "value": 1}
                    for name in ["asleep", *gone]
                ],
            },
            {
                "expr": FAILING,
                "eval_time": "30m",
                "exp_samples": [
                    {
                        "labels": f'{FAILING}{{environment="prod", profile="os2web", '
                        'site="lost", tier="priprod"}',
                        "value": 1,
                    }
                ],
            },
            firing("SiteStatusExporterAbsent", 40, ["lost"]),
            firing("SiteStatusSiteCritical", 40, []),
            firing("SiteStatusSiteUnknown", 140, []),
        ],
        alert_rule_test=[expect(minute, FLEET_ALERT, []) for minute in (15, 30, 60)],
    )


def without_kube_state_metrics() -> dict[str, Any]:
    """kube-state-metrics down: a vanished namespace cannot be told from a broken discovery,
    so the sites page as before."""
    gone = [f"gone{n}" for n in range(1, 4)]
    sites = [exporter(name, "priprod", status=always(0), scraped_until=10) for name in gone]
    namespaces: dict[str, Values] = {name: until(10, 1) for name in gone}
    sites.append(kube_state_metrics(during(0, 10, 1, 0), namespaces, {}))
    return group(
        "without kube-state-metrics nothing is retired: vanished sites page as before",
        sites,
        promql_expr_test=[
            {"expr": RETIRED, "eval_time": "15m", "exp_samples": []},
            firing("SiteStatusExporterAbsent", 40, gone),
        ],
    )


@pytest.mark.parametrize("scenario", [shared_warning, lifecycle, without_kube_state_metrics])
def test_promtool_cause_scenarios(scenario: Callable[[], dict[str, Any]], tmp_path: Path) -> None:
    path = write_tests(tmp_path, [scenario()])
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """Not vacuous: expecting SiteStatusSiteDegraded for the sites sharing a warning fails."""
    broken = shared_warning()
    broken["promql_expr_test"][1] = firing(
        "SiteStatusSiteDegraded", 130, ["web1", "web2", "web3", "web5", "web6", "web7"]
    )
    result = promtool("test", "rules", write_tests(tmp_path, [broken]).name, cwd=tmp_path)
    assert result.returncode != 0
    assert "ALERTS" in result.stdout + result.stderr
