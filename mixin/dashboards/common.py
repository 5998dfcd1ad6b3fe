"""Pieces both dashboards use: data sources, variables, status colours, query builders."""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import loki, prometheus
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

PROMETHEUS_VAR = "datasource"
LOKI_VAR = "loki_datasource"
PROMETHEUS = model.DataSourceRef(type_val="prometheus", uid=f"${{{PROMETHEUS_VAR}}}")
LOKI = model.DataSourceRef(type_val="loki", uid=f"${{{LOKI_VAR}}}")

#: Nagios codes as the exporter publishes them; 4 is the dashboards' own "exporter down".
STATUS_TEXT = {
    0: ("OK", "green"),
    1: ("WARNING", "yellow"),
    2: ("CRITICAL", "red"),
    3: ("UNKNOWN", "purple"),
    4: ("EXPORTER DOWN", "dark-red"),
}
DRUPAL_SEVERITY_TEXT = {
    -1: ("info", "blue"),
    0: ("OK", "green"),
    1: ("warning", "yellow"),
    2: ("error", "red"),
}


def value_mappings(texts: dict[int, tuple[str, str]]) -> list[model.ValueMapping]:
    options = {
        str(code): model.ValueMappingResult(text=text, color=color, index=index)
        for index, (code, (text, color)) in enumerate(texts.items())
    }
    return [model.ValueMap(options=options)]


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def datasource_variables() -> list[db.DatasourceVariable]:
    return [
        db.DatasourceVariable(PROMETHEUS_VAR).label("Prometheus").type("prometheus"),
        db.DatasourceVariable(LOKI_VAR).label("Loki").type("loki"),
    ]


def label_variable(
    name: str, metric: str, label: str, *, multi: bool, title: str
) -> db.QueryVariable:
    variable = (
        db.QueryVariable(name)
        .label(title)
        .datasource(PROMETHEUS)
        .query({"query": f"label_values({metric}, {label})", "refId": f"{name}-variable"})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


def prom(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(PROMETHEUS).range()
    return query.legend_format(legend) if legend else query


def prom_table(expr: str, ref: str = "A") -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .ref_id(ref)
        .datasource(PROMETHEUS)
        .instant()
        .format(PromQueryFormat.TABLE)
    )


def logql(expr: str, ref: str = "A") -> loki.Dataquery:
    return loki.Dataquery().expr(expr).ref_id(ref).datasource(LOKI)


def link(title: str, url: str) -> db.DashboardLink:
    return db.DashboardLink(title).url(url)


def dashboard(
    title: str, uid: str, description: str, variables: list[Any], other_dashboard: str
) -> db.Dashboard:
    """A site-status dashboard: a day's range, refreshed every minute, both data source
    variables before ``variables``, and a link to the other site-status dashboard."""
    return (
        db.Dashboard(title)
        .uid(uid)
        .tags(["site-status"])
        .description(description)
        .time("now-24h", "now")
        .refresh("1m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .variables([*datasource_variables(), *variables])
        .link(
            db.DashboardLink(other_dashboard)
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(["site-status"])
            .keep_time(True)
        )
    )


#: Grafana's data source for a panel whose queries go to different data sources.
MIXED = {"type": "datasource", "uid": "-- Mixed --"}


class DashboardError(ValueError):
    pass


def panel_datasource(panel: dict[str, Any]) -> dict[str, Any]:
    """The data source a panel must name: that of its queries, or Mixed if they differ.

    Grafana 10.x and 11.0-11.2 (and later ones with the older dashboard engine) run a panel's
    queries against the panel's data source, and with none against the *default* one,
    ignoring each query's ``${datasource}`` / ``${loki_datasource}``: a Loki panel would query
    Prometheus.
    """
    sources = {json.dumps(t["datasource"], sort_keys=True) for t in panel.get("targets", [])}
    if not sources:
        raise DashboardError(f"panel {panel.get('title')!r} has no query")
    if len(sources) > 1:
        return dict(MIXED)
    source: dict[str, Any] = json.loads(sources.pop())
    return source


def with_panel_datasources(document: dict[str, Any]) -> dict[str, Any]:
    """Every panel (rows' panels too) names the data source of its queries."""
    for panel in document.get("panels", []):
        children = panel.get("panels", [])
        if panel.get("type") != "row":
            panel["datasource"] = panel_datasource(panel)
        for child in children:
            child["datasource"] = panel_datasource(child)
    return document


def to_document(dashboard: db.Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana imports), every panel's data source set."""
    document: dict[str, Any] = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    return with_panel_datasources(document)
