"""docs/grafana/provisioning: valid provisioning files of the right shape, consistent with the
dashboards they load. Grafana cannot run here; what is checked is what Grafana would need: the
provider loads the directory the doc copies dashboards/*.json into, and every data source the
dashboards refer to (through their `datasource` and `loki_datasource` variables) exists."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixin.config import MixinConfig
from tests.docs.snippets import DOCS, REPO, shown_in

DASHBOARDS_DOC = DOCS / "dashboards.md"
PROVISIONING = DOCS / "grafana" / "provisioning"
PROVIDER = PROVISIONING / "dashboards" / "site-status.yaml"
DATASOURCES = PROVISIONING / "datasources" / "site-status.yaml"
KPS_VALUES = DOCS / "kube-prometheus-stack" / "values.yaml"
DASHBOARD_FILES = sorted((REPO / "dashboards").glob("*.json"))
#: Data sources every Grafana has: a panel may name them without provisioning anything.
BUILT_IN = {"-- Mixed --", "-- Grafana --", "-- Dashboard --", "grafana"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in DASHBOARD_FILES]


def datasource_refs(node: Any) -> Iterator[dict[str, str]]:
    """Every `datasource` reference of a dashboard: panels, targets, variables, annotations."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource" and isinstance(value, dict):
                yield value
            else:
                yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


def problems(dashboard: dict[str, Any], datasources: list[dict[str, Any]]) -> list[str]:
    """What would leave a panel of ``dashboard`` without data, given these data sources."""
    found = []
    variables = {
        v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"
    }
    for name, plugin in variables.items():
        # A variable without a current value starts on the first data source of its type (by
        # name): with exactly one there is nothing to choose (grafana/scenes
        # DataSourceVariable.getValueOptions).
        offered = [d["name"] for d in datasources if d["type"] == plugin]
        if len(offered) != 1:
            found.append(f"${name} offers {offered or 'no'} {plugin} data source(s)")
    uids = {d["uid"]: d["type"] for d in datasources}
    for ref in datasource_refs(dashboard):
        uid, kind = ref.get("uid", ""), ref.get("type")
        variable = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", uid)
        if variable:
            name = variable.group(1) or variable.group(2)
            if variables.get(name) != kind:
                found.append(f"{ref}: ${name} is not a {kind} data source variable")
        elif uid not in BUILT_IN and uids.get(uid) != kind:
            found.append(f"{ref}: no provisioned {kind} data source with uid {uid!r}")
    return found


def test_the_provider_has_grafanas_shape() -> None:
    provider = load(PROVIDER)
    assert provider["apiVersion"] == 1
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["name"] and entry["folder"]
    assert entry["allowUiUpdates"] is False  # generated dashboards: an edit would be lost
    path = Path(entry["options"]["path"])
    assert path.is_absolute()
    assert entry["options"]["foldersFromFilesStructure"] is False


def test_the_data_sources_have_grafanas_shape() -> None:
    document = load(DATASOURCES)
    assert document["apiVersion"] == 1
    datasources = document["datasources"]
    assert sorted(d["type"] for d in datasources) == ["loki", "prometheus"]
    for datasource in datasources:
        assert {"name", "uid", "type", "url", "access"} <= datasource.keys()
        assert datasource["access"] == "proxy"
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", datasource["uid"])
    assert len({d["uid"] for d in datasources}) == len({d["name"] for d in datasources}) == 2
    assert [d["isDefault"] for d in datasources if d.get("isDefault")] == [True]


@pytest.mark.parametrize("dashboard", dashboards(), ids=lambda d: str(d["uid"]))
def test_every_data_source_the_dashboard_refers_to_is_provisioned(
    dashboard: dict[str, Any],
) -> None:
    assert problems(dashboard, load(DATASOURCES)["datasources"]) == []


@pytest.mark.parametrize("dashboard", dashboards(), ids=lambda d: str(d["uid"]))
def test_the_kube_prometheus_stack_values_give_the_dashboard_its_data_sources(
    dashboard: dict[str, Any],
) -> None:
    """The chart provisions Prometheus itself (name Prometheus, uid prometheus); the values add
    Loki."""
    chart_prometheus = {"name": "Prometheus", "uid": "prometheus", "type": "prometheus"}
    added = load(KPS_VALUES)["grafana"]["additionalDataSources"]
    assert problems(dashboard, [chart_prometheus, *added]) == []


def test_the_check_finds_a_missing_or_ambiguous_data_source() -> None:
    fleet, _site = dashboards()
    datasources = load(DATASOURCES)["datasources"]
    prometheus_only = [d for d in datasources if d["type"] == "prometheus"]
    assert problems(fleet, prometheus_only)[0] == "$loki_datasource offers no loki data source(s)"
    two_lokis = [*datasources, {"name": "Loki 2", "uid": "loki2", "type": "loki"}]
    assert problems(fleet, two_lokis) == [
        "$loki_datasource offers ['Loki', 'Loki 2'] loki data source(s)"
    ]
    pinned = json.loads(json.dumps(fleet).replace("${loki_datasource}", "loki-prod"))
    assert any(
        "no provisioned loki data source with uid 'loki-prod'" in p
        for p in problems(pinned, datasources)
    )


def test_the_doc_copies_the_dashboards_where_the_provider_looks() -> None:
    path = load(PROVIDER)["providers"][0]["options"]["path"]
    text = DASHBOARDS_DOC.read_text()
    assert f"sudo install -m 644 dashboards/*.json {path}/" in text
    assert f"sudo install -d {path}" in text


def test_the_doc_shows_the_provisioning_files() -> None:
    for example in (PROVIDER, DATASOURCES):
        assert shown_in(DASHBOARDS_DOC, example), example


def test_the_rate_interval_knows_the_scrape_interval() -> None:
    """$__rate_interval is at least 4 scrape intervals as the data source states it: the
    Prometheus data source must say the interval of the scrape docs/alerts.md sets up."""
    scrape = load(DOCS / "prometheus" / "prometheus.yml")["scrape_configs"][0]
    (prometheus,) = [d for d in load(DATASOURCES)["datasources"] if d["type"] == "prometheus"]
    assert prometheus["jsonData"]["timeInterval"] == scrape["scrape_interval"]


def test_every_dashboard_link_opens_a_provisioned_dashboard() -> None:
    uids = {d["uid"] for d in dashboards()}
    config = MixinConfig()
    assert {config.fleet_dashboard_uid, config.site_dashboard_uid} <= uids  # the alerts' links
    for path in DASHBOARD_FILES:
        for uid in re.findall(r'"/d/([\w-]+)/', path.read_text()):
            assert uid in uids, (path.name, uid)


HELM_VALUES = DOCS / "grafana" / "helm-values.yaml"


def test_the_grafana_chart_values_are_shown_and_load_the_config_maps() -> None:
    assert shown_in(DASHBOARDS_DOC, HELM_VALUES)
    values = load(HELM_VALUES)
    sidecar = values["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True
    config_maps = list(
        yaml.safe_load_all((REPO / "k8s" / "cluster" / "dashboards.yaml").read_text())
    )
    assert {name for cm in config_maps for name in cm["data"]} == {p.name for p in DASHBOARD_FILES}
    for config_map in config_maps:
        assert config_map["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]


@pytest.mark.parametrize("dashboard", dashboards(), ids=lambda d: str(d["uid"]))
def test_the_grafana_chart_values_give_the_dashboard_its_data_sources(
    dashboard: dict[str, Any],
) -> None:
    (provisioning,) = load(HELM_VALUES)["datasources"].values()
    assert provisioning["apiVersion"] == 1
    assert problems(dashboard, provisioning["datasources"]) == []


def test_the_grafana_chart_values_know_the_service_monitors_interval() -> None:
    (provisioning,) = load(HELM_VALUES)["datasources"].values()
    (prometheus,) = [d for d in provisioning["datasources"] if d["type"] == "prometheus"]
    monitor = load(REPO / "k8s" / "base" / "servicemonitor.yaml")
    assert prometheus["jsonData"]["timeInterval"] == monitor["spec"]["endpoints"][0]["interval"]
