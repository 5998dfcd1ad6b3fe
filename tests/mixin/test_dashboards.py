"""Lint of the generated dashboards, and every LogQL expression parsed by Grafana's grammar."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mixin.dashboards.common import MIXED, DashboardError, panel_datasource
from tests.mixin.dashboard_queries import dashboards, interpolate, panels, queries
from tests.support.node_tools import logql_syntax_errors

DATASOURCE_UIDS = {"prometheus": "${datasource}", "loki": "${loki_datasource}"}


def all_panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, panel) for name, document in dashboards().items() for panel in panels(document)]


def test_both_dashboards_exist() -> None:
    assert set(dashboards()) == {"site-status-fleet.json", "site-status-site.json"}


@pytest.mark.parametrize("name", ["site-status-fleet.json", "site-status-site.json"])
def test_datasource_variables_for_prometheus_and_loki(name: str) -> None:
    variables = dashboards()[name]["templating"]["list"]
    datasources = {v["name"]: v["query"] for v in variables if v["type"] == "datasource"}
    assert datasources == {"datasource": "prometheus", "loki_datasource": "loki"}


def test_every_panel_has_title_unit_and_a_datasource_variable() -> None:
    problems = []
    for name, panel in all_panels():
        title = panel.get("title", "")
        where = f"{name}: {title or panel.get('id')}"
        if not title.strip():
            problems.append(f"{where}: no title")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{where}: no unit")
        if not panel.get("targets"):
            problems.append(f"{where}: no query")
        for target in panel.get("targets", []):
            source = target.get("datasource", {})
            if DATASOURCE_UIDS.get(source.get("type", "")) != source.get("uid"):
                problems.append(f"{where}: query datasource {source} is not a variable")
    assert problems == []


def test_every_panel_names_the_data_source_of_its_queries() -> None:
    """Grafana 10.x and 11.0-11.2 run a panel's queries against the panel's data source (the
    default one when the panel names none), whatever each query says."""
    problems = []
    for name, panel in all_panels():
        where = f"{name}: {panel.get('title')}"
        if panel.get("type") == "row":
            continue
        source = panel.get("datasource")
        if not source:
            problems.append(f"{where}: no panel data source")
            continue
        kinds = {t["datasource"]["type"] for t in panel.get("targets", [])}
        if kinds != {source.get("type")} or DATASOURCE_UIDS[source["type"]] != source.get("uid"):
            problems.append(f"{where}: panel data source {source}, queries {sorted(kinds)}")
    assert problems == []
    # Both kinds are there: the Loki panels name Loki, not Prometheus.
    kinds = {panel["datasource"]["type"] for _, panel in all_panels()}
    assert kinds == {"prometheus", "loki"}


def test_the_panel_data_source_check_finds_a_panel_without_one() -> None:
    loki = {"type": "loki", "uid": "${loki_datasource}"}
    prom = {"type": "prometheus", "uid": "${datasource}"}
    assert panel_datasource({"targets": [{"datasource": loki}]}) == loki
    assert panel_datasource({"targets": [{"datasource": loki}, {"datasource": prom}]}) == MIXED
    with pytest.raises(DashboardError):
        panel_datasource({"title": "empty", "targets": []})


def test_every_fleet_query_follows_every_filter() -> None:
    """Prometheus and Loki panels alike: $environment, $tier and $profile."""
    for query in queries():
        if query.dashboard == "site-status-fleet.json":
            for variable in ("$environment", "$tier", "$profile"):
                assert variable in query.expr, (query.panel, variable, query.expr)


def test_rates_use_rate_interval() -> None:
    for query in queries():
        if query.datasource != "prometheus":
            continue
        for window in re.findall(r"\b(?:rate|irate|increase)\([^\[]*\[([^\]]+)\]", query.expr):
            assert window == "$__rate_interval", (query.panel, query.expr)


def test_variables_are_used_by_every_prometheus_query() -> None:
    """Each query is filtered by the dashboard's site selection (no query ignores the filters)."""
    for query in queries():
        if query.datasource == "prometheus":
            assert "$" in query.expr, (query.panel, query.expr)


def logql_values() -> dict[str, str]:
    return {"cluster": "", "environment": "prod", "tier": ".*", "profile": ".*", "site": "shop"}


def test_every_logql_expression_parses() -> None:
    expressions = [interpolate(q.expr, logql_values()) for q in queries() if q.datasource == "loki"]
    assert len(expressions) >= 4
    assert logql_syntax_errors(expressions) == {}


def test_the_logql_grammar_rejects_broken_queries() -> None:
    broken = ['{job="site-status" | json', 'sum by (status) (count_over_time({job="x"}))']
    assert set(logql_syntax_errors(broken)) == set(broken)
