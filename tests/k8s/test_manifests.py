"""The rendered k8s/ manifests: valid offline, restricted, consistent with each other and alerts/.

Each site overlay renders only what runs in the site's namespace; ``k8s/cluster`` renders what a
cluster gets once (rules, routing, dashboards). Built-in kinds are checked by
``kubernetes-validate --strict`` (Kubernetes' own OpenAPI schemas); ServiceMonitor and
PrometheusRule against their CRD schemas in ``tests/k8s/crds`` with jsonschema, strictly (an
unknown field is an error, as with ``kubectl --validate=strict``); the AlertmanagerConfig in
tests/mixin/test_alertmanager.py.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from exporter.config import parse_config
from exporter.registry import default_registry
from tests.support.kustomize import K8S, REPO, build, documents

CRDS = Path(__file__).parent / "crds"
SITES = [K8S / "base", K8S / "overlays" / "example", K8S / "overlays" / "example-drupal"]
CLUSTER = K8S / "cluster"
KUBERNETES_VERSION = "1.30.0"  # the oldest API we support; validated against 1.37 too
#: Kinds that belong to the cluster, never to a site's namespace.
CLUSTER_KINDS = {"PrometheusRule", "AlertmanagerConfig", "ClusterRole", "ClusterRoleBinding"}


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return documents(K8S / "overlays" / "example")


@pytest.fixture(scope="module")
def cluster() -> list[dict[str, Any]]:
    return documents(CLUSTER)


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = by_kind(docs, kind)
    return found


def kubernetes_validate(path: Path, version: str) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run(
        [str(tool), "--strict", "--quiet", "-k", version, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


SITE_KINDS = [
    "ConfigMap",
    "Deployment",
    "NetworkPolicy",
    "NetworkPolicy",
    "PersistentVolumeClaim",
    "Role",
    "RoleBinding",
    "Service",
    "ServiceAccount",
    "ServiceMonitor",
]


def test_a_site_renders_only_what_runs_in_its_namespace(example: list[dict[str, Any]]) -> None:
    assert sorted(doc["kind"] for doc in example) == SITE_KINDS
    assert {doc["metadata"]["namespace"] for doc in example} == {"shop"}
    assert not by_kind(example, "CronJob")


def test_the_drupal_example_adds_exec_rights_and_a_drupal_probe_that_uses_them() -> None:
    docs = documents(K8S / "overlays" / "example-drupal")
    assert sorted(doc["kind"] for doc in docs) == sorted([*SITE_KINDS, "Role", "RoleBinding"])
    config = parse_config(one(docs, "ConfigMap")["data"]["site-status.yaml"], default_registry())
    runners = [p.runner.type for p in config.probes if p.kind == "drupal"]  # type: ignore[attr-defined]
    assert runners == ["kubernetes"]


def test_the_plain_example_has_no_exec_rights_and_no_drupal_probe(
    example: list[dict[str, Any]],
) -> None:
    assert [r["metadata"]["name"] for r in by_kind(example, "Role")] == ["site-status"]
    config = parse_config(one(example, "ConfigMap")["data"]["site-status.yaml"], default_registry())
    assert not [p for p in config.probes if p.kind == "drupal"]


def test_the_cluster_renders_rules_routing_templates_and_dashboards_once(
    cluster: list[dict[str, Any]],
) -> None:
    kinds = sorted(doc["kind"] for doc in cluster)
    assert kinds == ["AlertmanagerConfig", "ConfigMap", "ConfigMap", "ConfigMap", "PrometheusRule"]
    assert {doc["metadata"]["namespace"] for doc in cluster} == {"monitoring"}
    for site in SITES:
        assert not {doc["kind"] for doc in documents(site)} & CLUSTER_KINDS, site


def test_the_dashboards_are_config_maps_for_grafanas_sidecar(
    cluster: list[dict[str, Any]],
) -> None:
    """The Grafana chart's sidecar loads ConfigMaps labelled grafana_dashboard (the label
    kube-prometheus-stack's values set, value "1"); their files are dashboards/*.json."""
    maps = [
        m for m in by_kind(cluster, "ConfigMap") if m["metadata"]["name"].endswith("-dashboard")
    ]
    shipped = {path.name: path.read_text() for path in (REPO / "dashboards").glob("*.json")}
    found = {}
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        found.update(config_map["data"])
    assert found == shipped
    assert all(len(text.encode()) < 1024 * 1024 for text in found.values())  # ConfigMap limit


@pytest.mark.parametrize("overlay", [*SITES, CLUSTER], ids=lambda p: str(p.relative_to(K8S)))
@pytest.mark.parametrize("version", [KUBERNETES_VERSION, "1.37.0"])
def test_builtin_kinds_validate_strictly(overlay: Path, version: str, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(build(overlay))
    done = kubernetes_validate(rendered, version)
    assert done.returncode == 0, done.stdout + done.stderr
    # Only the prometheus-operator kinds are left to the CRD schemas.
    unknown = [line for line in done.stdout.splitlines() if "Couldn't find schema" in line]
    expected = (
        ["AlertmanagerConfig", "PrometheusRule"] if overlay == CLUSTER else ["ServiceMonitor"]
    )
    assert sorted(kind for line in unknown for kind in expected if kind in line) == expected


def test_the_validator_rejects_an_unknown_field(
    example: list[dict[str, Any]], tmp_path: Path
) -> None:
    deployment = copy.deepcopy(one(example, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(deployment))
    done = kubernetes_validate(bad, KUBERNETES_VERSION)
    assert done.returncode != 0
    assert "securityContxt" in done.stdout


def strict(schema: Any) -> Any:
    """The schema with unknown properties forbidden wherever properties are listed."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_errors(document: dict[str, Any]) -> list[str]:
    plural = {"ServiceMonitor": "servicemonitors", "PrometheusRule": "prometheusrules"}
    api_version = document["apiVersion"]
    assert api_version == "monitoring.coreos.com/v1"
    path = CRDS / f"{plural[document['kind']]}.monitoring.coreos.com.v1.yaml"
    validator = jsonschema.Draft7Validator(strict(yaml.safe_load(path.read_text())))
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_custom_resources_match_their_crd(
    example: list[dict[str, Any]], cluster: list[dict[str, Any]]
) -> None:
    assert crd_errors(one(example, "ServiceMonitor")) == []
    assert crd_errors(one(cluster, "PrometheusRule")) == []


def test_the_crd_check_rejects_what_the_api_server_would(
    example: list[dict[str, Any]], cluster: list[dict[str, Any]]
) -> None:
    monitor = copy.deepcopy(one(example, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    monitor["spec"]["endpoints"][0]["portName"] = "metrics"
    del monitor["spec"]["selector"]
    errors = crd_errors(monitor)
    assert any("spec.endpoints.0.interval" in e for e in errors)
    assert any("'portName' was unexpected" in e for e in errors)
    assert any("'selector' is a required property" in e for e in errors)
    rule = copy.deepcopy(one(cluster, "PrometheusRule"))
    rule["spec"]["groups"].append({"rules": [{"alert": "X"}]})
    errors = crd_errors(rule)
    assert any("'name' is a required property" in e for e in errors)
    assert any("'expr' is a required property" in e for e in errors)


def alert_groups() -> Iterator[dict[str, Any]]:
    """Every rule group in alerts/, read here independently of the generator."""
    for path in sorted((REPO / "alerts").glob("*.y*ml")):
        document = yaml.safe_load(path.read_text())
        if isinstance(document, dict) and isinstance(document.get("groups"), list):
            yield from document["groups"]


def test_the_prometheus_rule_holds_exactly_the_rules_of_alerts(
    cluster: list[dict[str, Any]],
) -> None:
    groups = list(alert_groups())
    assert groups, "alerts/ has no rule groups"
    assert one(cluster, "PrometheusRule")["spec"]["groups"] == groups


#: The volume types the "restricted" Pod Security Standard allows
#: (https://kubernetes.io/docs/concepts/security/pod-security-standards/, "Volume Types").
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def test_restricted_pod_security_and_a_read_only_root(example: list[dict[str, Any]]) -> None:
    pod = one(example, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for volume in pod["volumes"]:  # restricted: no hostPath and friends
        assert set(volume) - {"name"} <= RESTRICTED_VOLUMES
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["readOnlyRootFilesystem"] is True
        assert not context.get("privileged")


def test_one_replica_with_resources_of_the_measured_size(example: list[dict[str, Any]]) -> None:
    deployment = one(example, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["memory"] == "64Mi"
    assert container["resources"]["limits"]["memory"] == "128Mi"
    assert container["image"] == "registry.example.org/site-status:0.1.0"


def test_site_identity_comes_through_the_downward_api(example: list[dict[str, Any]]) -> None:
    template = one(example, "Deployment")["spec"]["template"]
    (container,) = template["spec"]["containers"]
    env = {var["name"]: var["valueFrom"]["fieldRef"]["fieldPath"] for var in container["env"]}
    assert env["SITE_STATUS_SITE__NAME"] == "metadata.namespace"
    assert env["SITE_STATUS_KUBERNETES__NAMESPACE"] == "metadata.namespace"
    labels = template["metadata"]["labels"]
    for field in ("environment", "tier", "profile"):
        assert env[f"SITE_STATUS_SITE__{field.upper()}"] == (
            f"metadata.labels['site-status.io/{field}']"
        )
        assert f"site-status.io/{field}" in labels  # the overlay sets them on the pod


def test_the_configs_in_the_config_maps_are_valid(example: list[dict[str, Any]]) -> None:
    for overlay in SITES:
        config_map = one(documents(overlay), "ConfigMap")
        config = parse_config(config_map["data"]["site-status.yaml"], default_registry())
        assert config.kubernetes.enabled
        assert config.reports.loki is not None
        spool = config.reports.loki.spool.directory or ""
        assert spool.startswith("/var/lib/site-status/")  # on the spool volume
    mounts = {
        mount["name"]: mount["mountPath"]
        for mount in one(example, "Deployment")["spec"]["template"]["spec"]["containers"][0][
            "volumeMounts"
        ]
    }
    assert mounts["spool"] == "/var/lib/site-status"
    config_map = one(example, "ConfigMap")
    volumes = one(example, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": config_map["metadata"]["name"]}} in volumes


def test_service_monitor_service_and_pods_select_each_other(example: list[dict[str, Any]]) -> None:
    service = one(example, "Service")
    monitor = one(example, "ServiceMonitor")
    template = one(example, "Deployment")["spec"]["template"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    port_names = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= port_names
    container_ports = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
    assert "metrics" in container_ports
    # The alerts select job="site-status": the job a ServiceMonitor gives is the Service's name.
    assert service["metadata"]["name"] == "site-status"


def test_the_role_binding_binds_the_pods_service_account(example: list[dict[str, Any]]) -> None:
    account = one(example, "ServiceAccount")["metadata"]["name"]
    pod = one(example, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    roles = {role["metadata"]["name"] for role in by_kind(example, "Role")}
    for binding in by_kind(example, "RoleBinding"):
        assert binding["roleRef"]["name"] in roles
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "shop"}
        ]


def test_the_containerfile_runs_as_the_pods_non_root_user(example: list[dict[str, Any]]) -> None:
    text = (REPO / "Containerfile").read_text()
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    uid = one(example, "Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert users[-1] == f"{uid}:{uid}"
    assert "pip install" in text and "site-status" in text


def spool_volume(docs: list[dict[str, Any]]) -> dict[str, Any]:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "spool"]
    return volume  # type: ignore[no-any-return]


@pytest.mark.parametrize("overlay", SITES, ids=lambda p: str(p.relative_to(K8S)))
def test_the_spool_outlives_the_pod_on_a_claim_one_pod_mounts_at_a_time(overlay: Path) -> None:
    """Reports not pushed when the pod is replaced (Loki down during a rollout or an eviction)
    are on a PersistentVolumeClaim the next pod mounts. ReadWriteOnce: the Deployment must be
    Recreate, since a RollingUpdate's surge pod on another node could not attach the volume."""
    docs = documents(overlay)
    deployment = one(docs, "Deployment")
    claim = one(docs, "PersistentVolumeClaim")
    assert spool_volume(docs) == {
        "name": "spool",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    assert claim["metadata"].get("namespace") == deployment["metadata"].get("namespace")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "256Mi"
    assert "storageClassName" not in claim["spec"]  # the cluster's default class
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert deployment["spec"]["replicas"] == 1
    # The next pod may run as another uid: the volume's group is what they share.
    context = deployment["spec"]["template"]["spec"]["securityContext"]
    assert context["fsGroup"] == context["runAsGroup"]
