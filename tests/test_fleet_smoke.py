"""A short run of the fleet simulation (``python -m tools.fleet``): 10 sites, x60 time compression.

The whole chain runs for real: 10 ``site-status run`` processes and 2 calibration ones, nginx,
Prometheus with the shipped rules (compressed copy), Alertmanager with the shipped routing
(compressed copy), blackbox_exporter, the Loki double and the webhook recorder. About 4 minutes.
The assertions are what the routing promises in any fleet size, not the 200-site targets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.test_bench_smoke import script_run

REPO = Path(__file__).resolve().parents[1]
SITES = 10


def incident(figures: dict[str, Any], scene: str) -> dict[str, Any]:
    found: dict[str, Any] = next(i for i in figures["incidents"] if i["scene"] == scene)
    return found


def test_short_fleet_run_pages_right_and_reports_every_figure(tmp_path: Path) -> None:
    results = tmp_path / "fleet.json"
    done = script_run(
        REPO / "tools" / "fleet" / "__main__.py",
        *("--sites", str(SITES), "--compression", "60"),
        *("--json", str(results), "--markdown", str(tmp_path / "fleet.md")),
        *("--plots", str(tmp_path / "plots")),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TIME-COMPRESSED RUN: x60" in done.stdout
    figures = json.loads(results.read_text())

    run = figures["run"]
    assert run["completed"] and run["unexpected_deaths"] == []
    assert run["exporters_started"] == SITES + 2

    # A lone priprod failure pages, within for (5 s) + group wait + probe/scrape/evaluation.
    lone = incident(figures, "lone")
    assert lone["pages"] >= 1 and lone["not_paged"] == {}
    assert 0 < lone["detection"]["priprod"]["max"] < 40
    # The dead exporter pages (SiteStatusExporterDown); at night the priprod site still pages.
    assert incident(figures, "dies")["not_paged"] == {}
    assert incident(figures, "night")["not_paged"] == {}
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
    # Every notification says why: each failing probe with its reason, or the shared cause.
    named = figures["reasons_named"]
    assert named["checked"] >= 3 and named["without_reason"] == [], named
    # A contrib release warns 40 % of the sites at once: one notification per tier at most.
    release = incident(figures, "release")
    assert release["sites"] >= 0.4 * SITES - 1
    assert 1 <= release["warnings"] <= 3 and release["pages"] == 0, release
    # The loaded machine: one SiteStatusLoadHigh per simulated node, never one per site.
    load = {k: v for k, v in figures["per_node"].items() if k.startswith("SiteStatusLoadHigh")}
    # (Whether the node is loaded past the probe's limit depends on what else the machine runs:
    # when it is, each node notifies once.)
    assert all(count == 1 for count in load.values()), figures["per_node"]
    assert figures["forbidden_pages"] == {
        "besteffort": [],
        "maintenance": [],
        "flexprod at night": [],
    }

    # Every non-OK probe at the end is named, with its summary, in a report Loki stored.
    why = figures["why"]
    assert why["non_ok_probes"] >= 3  # the night's three failing healthz probes at least
    assert why["named_in_loki"] == why["non_ok_probes"], why["missing"]

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

    queries = figures["dashboards"]["queries"]
    assert len(queries) >= 30
    assert all(q["runs"] >= 5 and q["p50_ms"] > 0 for q in queries)
    assert {q["kind"] for q in queries} == {"range", "instant", "variable"}

    assert len(figures["timeline"]["CRITICAL"]) > 50
    assert max(v for _, v in figures["timeline"]["CRITICAL"]) >= 1
    for name in ("status", "notifications", "cost"):
        assert (tmp_path / "plots" / f"fleet-{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert "| target | result | measured |" in (tmp_path / "fleet.md").read_text()
