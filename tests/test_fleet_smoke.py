"""A short run of the fleet simulation (``python -m tools.fleet``): 10 sites, x120, compact day.

The whole chain runs for real: 10 ``site-status run`` processes and 2 calibration ones, nginx,
Prometheus with the shipped rules (compressed copy), Alertmanager with the shipped routing
(compressed copy), blackbox_exporter, the kube-state-metrics stand-in, the Loki double and the
webhook recorder. The compact day plays the scenes that use different sites at once (docs/
fleet.md); one run, shared by every check below, about 2-3 minutes. The assertions are what the
routing promises at any fleet size, not the 200-site targets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_bench_smoke import script_run

REPO = Path(__file__).resolve().parents[1]
SITES = 10
COMPRESSION = 120


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    """(figures, output directory, stdout) of one short run."""
    out = tmp_path_factory.mktemp("fleet")
    results = out / "fleet.json"
    done = script_run(
        REPO / "tools" / "fleet" / "__main__.py",
        *("--sites", str(SITES), "--compression", str(COMPRESSION), "--compact"),
        *("--json", str(results), "--markdown", str(out / "fleet.md")),
        *("--plots", str(out / "plots")),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results.read_text()), out, done.stdout


@pytest.fixture(scope="module")
def figures(run: tuple[dict[str, Any], Path, str]) -> dict[str, Any]:
    return run[0]


def incident(figures: dict[str, Any], scene: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in figures["incidents"] if i["scene"] == scene)
    return found


def test_the_run_completes_and_says_it_is_compressed(
    run: tuple[dict[str, Any], Path, str],
) -> None:
    figures, out, stdout = run
    assert f"TIME-COMPRESSED RUN: x{COMPRESSION}" in stdout
    assert figures["run"]["completed"] and figures["run"]["unexpected_deaths"] == []
    assert figures["run"]["errors"] == []
    assert figures["run"]["exporters_started"] == SITES + 2
    for name in ("status", "notifications", "cost"):
        assert (out / "plots" / f"fleet-{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| target | result | measured |" in (out / "fleet.md").read_text()


def test_a_lone_site_pages_and_so_do_a_dead_exporter_and_the_night(
    figures: dict[str, Any],
) -> None:
    # A lone priprod failure pages, within for (2.5 s) + group wait + probe/scrape/evaluation.
    lone = incident(figures, "lone")
    assert lone["pages"] >= 1 and lone["not_paged"] == {}
    assert 0 < lone["detection"]["priprod"]["max"] < 40
    # The dead exporter pages (SiteStatusExporterDown); at night the priprod site still pages.
    assert incident(figures, "dies")["not_paged"] == {}
    assert incident(figures, "night")["not_paged"] == {}
    assert figures["forbidden_pages"] == {
        "besteffort": [],
        "maintenance": [],
        "flexprod at night": [],
    }


def test_the_shared_database_pages_at_most_three_times_naming_it(figures: dict[str, Any]) -> None:
    shared = incident(figures, "shared")
    assert 1 <= shared["pages"] <= 3
    # Its pages name the shared component: the fleet alert what its sites have in common (10
    # sites spread over 3 tiers make no fleet incident: then each site's page says why).
    pages = figures["shared_pages"]
    assert pages, "no page in the shared-database scene"
    # Drupal healthz names "database:connection", Spring's actuator "db", drush the SQLSTATE.
    database = re.compile(r"component (database|db)\b|drush SQLSTATE\[HY000\] \[2002\]")
    for name in ("SiteStatusFleetCritical", "SiteStatusSiteCritical"):
        assert all(database.search(summary) for summary in pages.get(name, [])), pages
    assert {"SiteStatusFleetCritical", "SiteStatusSiteCritical"} & pages.keys(), pages


def test_every_notification_names_a_reason(figures: dict[str, Any]) -> None:
    named = figures["reasons_named"]
    assert named["checked"] >= 3 and named["without_reason"] == [], named


def test_a_release_warning_40_percent_of_sites_notifies_at_most_three_times(
    figures: dict[str, Any],
) -> None:
    release = incident(figures, "release")
    assert release["sites"] >= 0.4 * SITES - 1
    why = (release["warnings_by_alert"], release["pages"])
    assert 1 <= release["warnings"] <= 3 and release["pages"] == 0, why


def test_a_loaded_node_notifies_once_per_node(figures: dict[str, Any]) -> None:
    load = {k: v for k, v in figures["per_node"].items() if k.startswith("SiteStatusLoadHigh")}
    # (Whether the node is loaded past the probe's limit depends on what else the machine runs:
    # when it is, each node notifies once.)
    assert all(count == 1 for count in load.values()), figures["per_node"]


def test_retiring_five_sites_pages_nobody_and_makes_no_fleet_alert(
    figures: dict[str, Any],
) -> None:
    retired = figures["retirement"]
    assert len(retired["sites"]) == 5
    assert set(retired["how"].values()) == {"delete", "scale"}
    # The rule saw kube-state-metrics' change: without it the same run pages (the sites' healthz
    # fail, then their exporters stop and their targets vanish).
    assert retired["seen_after_s"] is not None
    assert retired["pages"] == [] and retired["fleet_alerts"] == [], retired
    assert incident(figures, "retire")["pages"] == 0


def test_every_non_ok_probe_is_named_in_loki(figures: dict[str, Any]) -> None:
    why = figures["why"]
    assert why["non_ok_probes"] >= 3  # the night's three failing healthz probes at least
    assert why["named_in_loki"] == why["non_ok_probes"], why["missing"]


def test_cost_prometheus_and_dashboard_figures_are_taken(figures: dict[str, Any]) -> None:
    cost = figures["cost"]
    for profile in ("drupal", "service"):
        rows = cost["per_profile"][profile]
        assert rows["cpu_s_per_hour"]["median"] > 0
        assert 5 < rows["pss_mib"]["median"] <= rows["rss_mib"]["median"]
    assert cost["per_profile"]["drupal"]["drush_cpu_s_per_hour"]["median"] > 0
    assert set(cost["calibration"]) == {"cal-web", "cal-api"}
    assert cost["comparison"]["blackbox_probes"] > 0
    assert cost["comparison"]["blackbox_cpu_ms_per_probe"] > 0

    prometheus = figures["prometheus"]
    assert prometheus["series_per_site"]["median"] > 20
    assert prometheus["samples_per_second"] > 0
    assert prometheus["unbounded_labels"] == []
    assert prometheus["rules"] > 10
    assert figures["rule_evaluation"], "Prometheus' rule-group figures were not read"

    queries = figures["dashboards"]["queries"]
    assert len(queries) >= 30
    assert all(q["runs"] >= 5 and q["p50_ms"] > 0 for q in queries)
    assert {q["kind"] for q in queries} == {"range", "instant", "variable"}

    assert len(figures["timeline"]["CRITICAL"]) > 50
    assert max(v for _, v in figures["timeline"]["CRITICAL"]) >= 1
