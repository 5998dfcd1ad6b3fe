"""docs/alerts.md's setup steps work: the Prometheus snippet with the real rule files (promtool,
and a real Prometheus loading them), the receivers snippet (amtool), the k8s/cluster overlay
(kustomize) and the kube-prometheus-stack values agree with what k8s/cluster installs."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mixin.alerts import with_cluster
from mixin.config import MixinConfig
from tests.docs.snippets import DOCS, REPO, fenced_blocks, shown_in
from tests.k8s.test_manifests import strict
from tests.support.exporter_process import free_port, wait_until
from tests.support.kustomize import documents
from tests.support.node_tools import logql_syntax_errors

ALERTS_DOC = DOCS / "alerts.md"
PROMETHEUS_YML = DOCS / "prometheus" / "prometheus.yml"
RECEIVERS_YML = DOCS / "alertmanager" / "receivers.yml"
OVERLAY = DOCS / "k8s-cluster-overlay"
KPS_VALUES = DOCS / "kube-prometheus-stack" / "values.yaml"
RULE_FILES = sorted((REPO / "alerts").glob("*.rules.yml"))
CHART_VALUES_EXCERPT = (
    Path(__file__).parent / "fixtures" / "kube-prometheus-stack-values-excerpt.yaml"
)
CRD_EXCERPT = (
    REPO
    / "tests"
    / "k8s"
    / "crds"
    / "alertmanagers.monitoring.coreos.com.v1.alertmanagerConfiguration.yaml"
)


def tool(name: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(name)
    assert binary, f"{name} is missing: scripts/test installs Debian's prometheus packages"
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def prometheus_etc(tmp_path: Path, *, copy_rules: bool = True) -> Path:
    """/etc/prometheus as the doc's steps leave it: the snippet, and the rules beside it."""
    etc = tmp_path / "etc-prometheus"
    (etc / "site-status").mkdir(parents=True)
    shutil.copy(PROMETHEUS_YML, etc / "prometheus.yml")
    if copy_rules:
        for rules in RULE_FILES:
            shutil.copy(rules, etc / "site-status" / rules.name)
    return etc / "prometheus.yml"


@pytest.mark.parametrize(
    "example", [PROMETHEUS_YML, RECEIVERS_YML, OVERLAY / "kustomization.yaml", KPS_VALUES]
)
def test_the_doc_shows_the_tested_file(example: Path) -> None:
    assert shown_in(ALERTS_DOC, example), f"docs/alerts.md must show {example.relative_to(REPO)}"


def test_promtool_accepts_the_snippet_and_finds_every_rule(tmp_path: Path) -> None:
    result = tool("promtool", "check", "config", str(prometheus_etc(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout
    for rules in RULE_FILES:
        count = sum(len(group["rules"]) for group in yaml.safe_load(rules.read_text())["groups"])
        assert re.search(rf"{rules.name}\n\s+SUCCESS: {count} rules found", result.stdout)


def test_promtool_passes_a_config_whose_rules_are_missing(tmp_path: Path) -> None:
    """Why the test above counts: a glob that matches nothing is no error for promtool."""
    result = tool("promtool", "check", "config", str(prometheus_etc(tmp_path, copy_rules=False)))
    assert result.returncode == 0
    assert "rule files found" not in result.stdout


def test_the_scrape_job_is_the_one_the_rules_select() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert f'job="{jobs[0]}"' == MixinConfig().selector
    assert all(
        target.endswith(":9918")
        for target in config["scrape_configs"][0]["static_configs"][0]["targets"]
    )


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def prometheus(config: Path, data: Path) -> Iterator[str]:
    port = free_port()
    log = data.parent / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                shutil.which("prometheus") or "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")
        with contextlib.suppress(OSError, urllib.error.URLError):
            return bool(urllib.request.urlopen(f"{url}/-/ready", timeout=1).status == 200)
        return False

    try:
        wait_until(ready, timeout=30, interval=0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_prometheus_loads_every_group_and_alert_from_the_snippet(tmp_path: Path) -> None:
    expected = {
        group["name"]: [rule.get("alert") or rule["record"] for rule in group["rules"]]
        for rules in RULE_FILES
        for group in yaml.safe_load(rules.read_text())["groups"]
    }
    with prometheus(prometheus_etc(tmp_path), tmp_path / "data") as url:
        groups = http_json(f"{url}/api/v1/rules")["data"]["groups"]
        # Targets appear once service discovery has run, a moment after /-/ready.
        targets = wait_until(
            lambda: http_json(f"{url}/api/v1/targets")["data"]["activeTargets"], timeout=30
        )
    assert {g["name"]: [r["name"] for r in g["rules"]] for g in groups} == expected
    assert {t["labels"]["job"] for t in targets} == {"site-status"}


def test_amtool_accepts_the_routing_with_the_documented_receivers(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "alerts" / "alertmanager.yml").read_text())
    config["receivers"] = yaml.safe_load(RECEIVERS_YML.read_text())["receivers"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    checked = tool("amtool", "check-config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 receivers" in checked.stdout
    routed = tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={path}",
        "tier=priprod",
        "severity=critical",
        "alertname=SiteStatusSiteCritical",
    )
    assert routed.stdout.strip() == "pager", routed.stdout + routed.stderr


def test_amtool_rejects_a_misspelt_receiver_field(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "alerts" / "alertmanager.yml").read_text())
    receivers = yaml.safe_load(
        RECEIVERS_YML.read_text().replace("routing_key_file", "routing_key_fil")
    )
    config["receivers"] = receivers["receivers"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    assert tool("amtool", "check-config", str(path)).returncode != 0


def test_the_overlay_moves_k8s_cluster_and_labels_the_rule_for_the_chart() -> None:
    base = documents(REPO / "k8s" / "cluster")
    objects = documents(OVERLAY)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        (o["kind"], o["metadata"]["name"]) for o in base
    ]
    assert {o["metadata"]["namespace"] for o in objects} == {"observability"}
    (rule,) = [o for o in objects if o["kind"] == "PrometheusRule"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == next(o for o in base if o["kind"] == "PrometheusRule")["spec"]


def test_the_chart_values_select_what_k8s_cluster_installs() -> None:
    values = yaml.safe_load(KPS_VALUES.read_text())
    objects = documents(REPO / "k8s" / "cluster")
    (routing,) = [o for o in objects if o["kind"] == "AlertmanagerConfig"]
    spec = values["alertmanager"]["alertmanagerSpec"]
    assert spec["alertmanagerConfiguration"]["name"] == routing["metadata"]["name"]
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    dashboards = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard")
    ]
    assert dashboards
    for config_map in dashboards:
        assert config_map["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
    prometheus_spec = values["prometheus"]["prometheusSpec"]
    assert prometheus_spec["ruleSelectorNilUsesHelmValues"] is False
    assert prometheus_spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def alertmanager_configuration_errors(configuration: Any) -> list[str]:
    """``configuration`` against the chart's Alertmanager CRD, unknown keys forbidden."""
    schema = yaml.safe_load(CRD_EXCERPT.read_text())
    validator = jsonschema.Draft7Validator(strict(schema))
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(configuration)
    ]


def key_paths(tree: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if not isinstance(tree, dict):
        return set()
    found = set()
    for key, value in tree.items():
        found.add((*prefix, key))
        found |= key_paths(value, (*prefix, key))
    return found


def test_the_alertmanager_values_are_the_charts_keys_and_the_crds_fields() -> None:
    """Every key under ``alertmanager`` down to ``alertmanagerConfiguration`` is the chart's
    (the vendored excerpt of its values.yaml), and what is under it, which the chart copies into
    the Alertmanager resource, passes the chart's CRD schema with unknown fields forbidden."""
    ours = yaml.safe_load(KPS_VALUES.read_text())["alertmanager"]
    chart = yaml.safe_load(CHART_VALUES_EXCERPT.read_text())["alertmanager"]
    configuration = ours["alertmanagerSpec"]["alertmanagerConfiguration"]
    above = {p for p in key_paths(ours) if "alertmanagerConfiguration" not in p[:-1]}
    assert above <= key_paths(chart), above - key_paths(chart)
    assert alertmanager_configuration_errors(configuration) == []
    # Not vacuous: the chart's templateFiles key does not belong there, and a reference needs
    # its key.
    assert alertmanager_configuration_errors({**configuration, "templateFiles": {}})
    assert alertmanager_configuration_errors({"templates": [{"configMap": {"name": "x"}}]})


def test_the_templates_the_values_name_are_what_k8s_cluster_installs() -> None:
    """Each template the Alertmanager resource lists is a ConfigMap key k8s/cluster installs in
    Alertmanager's namespace, holding alerts/site-status.tmpl; the operator mounts it at
    /etc/alertmanager/templates/KEY, the path docs/alerts.md gives."""
    values = yaml.safe_load(KPS_VALUES.read_text())
    templates = values["alertmanager"]["alertmanagerSpec"]["alertmanagerConfiguration"]["templates"]
    maps = {
        o["metadata"]["name"]: o
        for o in documents(REPO / "k8s" / "cluster")
        if o["kind"] == "ConfigMap"
    }
    assert templates
    for reference in templates:
        config_map = maps[reference["configMap"]["name"]]
        key = reference["configMap"]["key"]
        assert config_map["data"][key] == (REPO / "alerts" / "site-status.tmpl").read_text()
        assert f"/etc/alertmanager/templates/{key}" in ALERTS_DOC.read_text()


def test_the_documented_mixin_links_are_a_valid_mixin_config() -> None:
    (links,) = [b for b in fenced_blocks(ALERTS_DOC, "yaml") if b.startswith("grafana_url:")]
    config = MixinConfig.model_validate(yaml.safe_load(links))
    assert config.grafana_url != MixinConfig().grafana_url
    assert config.runbook_url_base != MixinConfig().runbook_url_base


def merged_into(existing: dict[str, Any]) -> dict[str, Any]:
    """alerts/alertmanager.yml merged into another config the way docs/alerts.md says."""
    ours = yaml.safe_load((REPO / "alerts" / "alertmanager.yml").read_text())
    root = ours["route"]
    branch = {key: root[key] for key in ("receiver", "group_by", "group_wait", "group_interval")}
    branch |= {"repeat_interval": root["repeat_interval"], "routes": root["routes"]}
    branch["matchers"] = ['alertname=~"SiteStatus.+"']
    merged = dict(existing)
    merged["route"] = dict(existing["route"])
    merged["route"]["routes"] = [branch, *existing["route"].get("routes", [])]
    for key in ("receivers", "time_intervals", "inhibit_rules"):
        merged[key] = [*existing.get(key, []), *ours[key]]
    merged["inhibit_rules"][-1]["source_matchers"].append('alertname=~"SiteStatus.+"')
    return merged


def test_the_merge_recipe_keeps_both_configs_routing(tmp_path: Path) -> None:
    existing = {
        "route": {
            "receiver": "ops-mail",
            "group_by": ["alertname", "instance"],
            "routes": [{"receiver": "db-team", "matchers": ['team="db"']}],
        },
        "receivers": [{"name": "ops-mail"}, {"name": "db-team"}],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(merged_into(existing)))
    checked = tool("amtool", "check-config", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cases = [
        (["alertname=SiteStatusSiteCritical", "tier=priprod", "severity=critical"], "pager"),
        (["alertname=SiteStatusSiteCritical", "tier=besteffort", "team=db"], "team-chat"),
        (["alertname=SiteStatusExporterDown", "tier=unknown"], "team-chat"),
        (["alertname=PostgresDown", "team=db", "severity=critical"], "db-team"),
        (["alertname=NodeDown", "tier=priprod", "severity=critical"], "ops-mail"),
    ]
    for labels, receiver in cases:
        routed = tool("amtool", "config", "routes", "test", f"--config.file={path}", *labels)
        assert routed.stdout.strip() == receiver, labels


def alert_loki_queries(cluster: str = "") -> list[str]:
    """The LogQL each alert's description tells the on-call person to run, for site shop (in
    ``cluster``, as its Prometheus's external label, or on one Prometheus without one)."""
    in_cluster = with_cluster(MixinConfig(), ', cluster="{{ . }}"')
    found = []
    for group in yaml.safe_load((REPO / "alerts" / "site-status-alerts.rules.yml").read_text())[
        "groups"
    ]:
        for rule in group["rules"]:
            text = rule.get("annotations", {}).get("description", "")
            query = re.search(r"in Loki: (\{.*\}[^.]*)\.", text)
            if query:
                found.append(
                    query.group(1)
                    .replace("{{ $labels.site }}", "shop")
                    .replace("{{ $labels.environment }}", "prod")
                    .replace(in_cluster, f', cluster="{cluster}"' if cluster else "")
                )
    return found


@pytest.mark.parametrize("cluster", ["", "dr"])
def test_the_alerts_loki_queries_parse_and_filter_on_the_line(cluster: str) -> None:
    """Status and kind are fields of the report line, not stream labels (docs/reports.md)."""
    queries = alert_loki_queries(cluster)
    assert len(queries) == 4
    assert logql_syntax_errors(queries) == {}
    labels = ["job", "site", "environment", "report_type", *(["cluster"] if cluster else [])]
    for query in queries:
        selector = query.split("}")[0]
        assert re.findall(r"(\w+)=", selector) == labels
        assert re.search(r'\| json \| (status|probe_kind)="\w+"$', query), query
