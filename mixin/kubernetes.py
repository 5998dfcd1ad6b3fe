"""What a cluster gets once (``k8s/cluster/``): the rules, the routing and the dashboards as
prometheus-operator resources and Grafana sidecar ConfigMaps, from the same documents as
``alerts/`` and ``dashboards/``.

Per site, ``k8s/base`` holds only what runs in the site's namespace; these are cluster-wide
(their rules select every site's series), so installing them per site would install the same
rules once per site.
"""

from __future__ import annotations

from typing import Any

from mixin.alertmanager import alertmanager_config_crd
from mixin.config import MixinConfig
from mixin.notifications import TEMPLATE, TEMPLATE_FILE
from mixin.render import GENERATED, to_json, to_yaml
from mixin.rules import rule_files

CLUSTER = "k8s/cluster"
#: The namespace k8s/cluster/kustomization.yaml installs into (Prometheus, Alertmanager and
#: Grafana's: the sidecar and the operator look there by default).
NAMESPACE = "monitoring"
#: The label the Grafana chart's dashboard sidecar watches (``sidecar.dashboards.label``), with
#: the value kube-prometheus-stack sets (``labelValue: "1"``).
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
#: The ConfigMap holding alerts/site-status.tmpl, for the Alertmanager resource's
#: ``alertmanagerConfiguration.templates`` (docs/kube-prometheus-stack/values.yaml): the
#: operator mounts each listed key at /etc/alertmanager/templates/KEY and lists that path in the
#: config it generates (prometheus-operator pkg/alertmanager/operator.go, statefulset.go).
TEMPLATES_CONFIG_MAP = "site-status-alertmanager-templates"


def prometheus_rule(config: MixinConfig) -> dict[str, Any]:
    # In the order of the files in alerts/ (by name), as a rule_files glob would load them.
    files = sorted(rule_files(config).items())
    groups = [group for _, document in files for group in document["groups"]]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "site-status"},
        "spec": {"groups": groups},
    }


def dashboard_config_map(name: str, dashboard: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-dashboard", "labels": dict(DASHBOARD_LABEL)},
        "data": {f"{name}.json": to_json(dashboard)},
    }


def templates_config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": TEMPLATES_CONFIG_MAP},
        "data": {TEMPLATE_FILE: TEMPLATE},
    }


def cluster_files(config: MixinConfig, dashboards: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Path relative to the repository -> content; ``dashboards``: name -> dashboard."""
    maps = [dashboard_config_map(name, document) for name, document in dashboards.items()]
    dashboards_text = GENERATED + "---\n".join(to_yaml(m) for m in maps)
    return {
        f"{CLUSTER}/prometheusrule.yaml": to_yaml(prometheus_rule(config), GENERATED),
        f"{CLUSTER}/alertmanagerconfig.yaml": to_yaml(
            alertmanager_config_crd(NAMESPACE), GENERATED
        ),
        f"{CLUSTER}/dashboards.yaml": dashboards_text,
        f"{CLUSTER}/alertmanager-templates.yaml": to_yaml(templates_config_map(), GENERATED),
    }
