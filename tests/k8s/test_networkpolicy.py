"""The rendered NetworkPolicies, evaluated against the pods they must (and must not) reach.

``tests/k8s/netpol.py`` reads the policies as the Kubernetes API defines them; the peers below
carry the labels, namespaces and ports of the real workloads, from their sources:

- CoreDNS: kubeadm's manifest (kubernetes/kubernetes,
  cmd/kubeadm/app/phases/addons/dns/manifests.go): Deployment in kube-system, pod labels
  ``k8s-app: kube-dns`` (plus the ReplicaSet's ``pod-template-hash``), container ports 53/UDP
  ``dns``, 53/TCP ``dns-tcp``, 9153 ``metrics``, 8080 and 8181 (health);
- Loki: the grafana/loki Helm chart (production/helm/loki/templates/gateway/
  deployment-gateway-nginx.yaml, _helpers-gateway.tpl, _helpers.tpl): gateway pods labelled
  ``app.kubernetes.io/name: loki``, ``app.kubernetes.io/instance: <release>``,
  ``app.kubernetes.io/component: gateway``, nginx on containerPort 8080 ``http-metrics``
  (Service ``loki-gateway`` port 80 -> 8080); Loki itself (single binary) on 3100, gRPC 9095;
- the API server: the endpoints of ``default/kubernetes``, the control plane node's address on
  the host network, port 6443 (kubeadm's default ``bindPort``); no pod labels match it;
- Prometheus: prometheus-operator's pods (``app.kubernetes.io/name: prometheus``) in
  ``monitoring``; ingress-nginx's controller (kubernetes/ingress-nginx
  deploy/static/provider/cloud/deploy.yaml: ``app.kubernetes.io/name: ingress-nginx``,
  ``app.kubernetes.io/component: controller`` in ``ingress-nginx``, ports 80 and 443); Argo
  Rollouts' controller (``app.kubernetes.io/name: argo-rollouts`` in ``argo-rollouts``).

Every namespace carries ``kubernetes.io/metadata.name`` (set by the API server since 1.21).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.netpol import (
    Endpoint,
    Port,
    connection_allowed,
    egress_allowed,
    host,
    pod,
    selects,
)
from tests.support.kustomize import K8S, documents

TCP, UDP = "TCP", "UDP"
APISERVER = host("172.18.0.2")  # the example overlay's --apiserver 172.18.0.2/32
COREDNS = pod(
    "kube-system",
    {"k8s-app": "kube-dns", "pod-template-hash": "5dd5756b68"},
    "10.244.0.3",
    [
        Port(53, UDP, "dns"),
        Port(53, TCP, "dns-tcp"),
        Port(9153, TCP, "metrics"),
        Port(8080, TCP, "liveness-probe"),
        Port(8181, TCP, "readiness-probe"),
    ],
)
METRICS_SERVER = pod(
    "kube-system", {"k8s-app": "metrics-server"}, "10.244.0.5", [Port(10250, TCP, "https")]
)
LOKI_GATEWAY = pod(
    "loki",
    {
        "app.kubernetes.io/name": "loki",
        "app.kubernetes.io/instance": "loki",
        "app.kubernetes.io/component": "gateway",
        "pod-template-hash": "7c9b8d6f4d",
    },
    "10.244.1.20",
    [Port(8080, TCP, "http-metrics")],
)
LOKI = pod(
    "loki",
    {
        "app.kubernetes.io/name": "loki",
        "app.kubernetes.io/instance": "loki",
        "app.kubernetes.io/component": "single-binary",
    },
    "10.244.1.21",
    [Port(3100, TCP, "http-metrics"), Port(9095, TCP, "grpc")],
)
PROMETHEUS = pod(
    "monitoring",
    {"app.kubernetes.io/name": "prometheus", "prometheus": "k8s"},
    "10.244.2.7",
    [Port(9090, TCP, "web")],
)
INGRESS_CONTROLLER = pod(
    "ingress-nginx",
    {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/instance": "ingress-nginx",
        "app.kubernetes.io/component": "controller",
    },
    "10.244.3.4",
    [Port(80, TCP, "http"), Port(443, TCP, "https"), Port(8443, TCP, "webhook")],
)
ARGO_ROLLOUTS = pod(
    "argo-rollouts",
    {
        "app.kubernetes.io/name": "argo-rollouts",
        "app.kubernetes.io/component": "rollouts-controller",
    },
    "10.244.3.9",
    [Port(8090, TCP, "metrics")],
)
SHOP_DRUPAL = pod("shop", {"app.kubernetes.io/name": "drupal"}, "10.244.1.30", [Port(80, TCP)])
OTHER_SITE = pod("campus", {"app.kubernetes.io/name": "drupal"}, "10.244.1.31", [Port(80, TCP)])
DATABASE = pod("databases", {"app.kubernetes.io/name": "mariadb"}, "10.244.4.2", [Port(3306)])
METADATA = host("169.254.169.254")  # cloud instance metadata
INTERNET = host("93.184.216.34")
WORKER_NODE = host("172.18.0.3")

#: Every real endpoint a peer of ours may mean; a peer that selects none of them is broken.
CATALOG = [
    APISERVER,
    COREDNS,
    METRICS_SERVER,
    LOKI_GATEWAY,
    LOKI,
    PROMETHEUS,
    INGRESS_CONTROLLER,
    ARGO_ROLLOUTS,
    SHOP_DRUPAL,
    OTHER_SITE,
    DATABASE,
]


def exporter_pod(docs: list[dict[str, Any]]) -> Endpoint:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    ports = [
        Port(p["containerPort"], p.get("protocol", TCP), p["name"]) for p in container["ports"]
    ]
    namespace = deployment["metadata"].get("namespace", "default")
    return pod(namespace, template["metadata"]["labels"], "10.244.1.9", ports)


def policies(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "NetworkPolicy"]


def overlay_with(tmp_path: Path, components: list[str]) -> list[dict[str, Any]]:
    """The example overlay plus ``components``."""
    overlay = tmp_path / "shop"
    overlay.mkdir()
    example = K8S / "overlays" / "example"
    for name in ("site-status.yaml", "apiserver.yaml"):
        (overlay / name).write_text((example / name).read_text())
    document = yaml.safe_load((example / "kustomization.yaml").read_text())
    relative = os.path.relpath(K8S, overlay)
    document["resources"] = [f"{relative}/base"]
    document["components"] = [f"{relative}/components/{name}" for name in components]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(document))
    return documents(overlay)


@pytest.fixture(scope="module")
def example() -> list[dict[str, Any]]:
    return documents(K8S / "overlays" / "example")


def test_the_dns_peer_is_coredns_and_nothing_is_injected_into_it(
    example: list[dict[str, Any]],
) -> None:
    (site,) = [p for p in policies(example) if p["metadata"]["name"] == "site-status"]
    dns_rules = [
        r for r in site["spec"]["egress"] if {"port": 53, "protocol": UDP} in r.get("ports", [])
    ]
    (rule,) = dns_rules
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]


@pytest.mark.parametrize("port", [Port(53, UDP), Port(53, TCP)])
def test_the_exporter_resolves_names_through_coredns(
    example: list[dict[str, Any]], port: Port
) -> None:
    assert connection_allowed(policies(example), exporter_pod(example), COREDNS, port)


@pytest.mark.parametrize(
    ("destination", "port"),
    [
        (COREDNS, Port(9153)),  # CoreDNS, but not DNS
        (METRICS_SERVER, Port(53, UDP)),  # DNS port, but not CoreDNS
        (METRICS_SERVER, Port(10250)),
    ],
)
def test_nothing_else_in_kube_system(
    example: list[dict[str, Any]], destination: Endpoint, port: Port
) -> None:
    assert not connection_allowed(policies(example), exporter_pod(example), destination, port)


@pytest.mark.parametrize(("destination", "port"), [(LOKI_GATEWAY, Port(8080)), (LOKI, Port(3100))])
def test_the_exporter_pushes_to_loki(
    example: list[dict[str, Any]], destination: Endpoint, port: Port
) -> None:
    assert connection_allowed(policies(example), exporter_pod(example), destination, port)


def test_not_to_lokis_grpc_port(example: list[dict[str, Any]]) -> None:
    assert not connection_allowed(policies(example), exporter_pod(example), LOKI, Port(9095))


@pytest.mark.parametrize("port", [Port(6443), Port(443)])
def test_the_exporter_reaches_the_api_server(example: list[dict[str, Any]], port: Port) -> None:
    assert connection_allowed(policies(example), exporter_pod(example), APISERVER, port)


@pytest.mark.parametrize(
    ("destination", "port"),
    [
        (METADATA, Port(80)),
        (INTERNET, Port(443)),
        (INTERNET, Port(80)),
        (WORKER_NODE, Port(6443)),
        (WORKER_NODE, Port(10250)),  # a kubelet
        (INGRESS_CONTROLLER, Port(443)),  # only with the probe-ingresses component
        (OTHER_SITE, Port(80)),  # another site's namespace
        (DATABASE, Port(3306)),
    ],
)
def test_no_other_destination(
    example: list[dict[str, Any]], destination: Endpoint, port: Port
) -> None:
    """Before: TCP 80/443/6443 to any address; now only what the config needs."""
    assert not connection_allowed(policies(example), exporter_pod(example), destination, port)


def test_the_sites_own_services_on_any_port(example: list[dict[str, Any]]) -> None:
    assert connection_allowed(policies(example), exporter_pod(example), SHOP_DRUPAL, Port(80))
    assert connection_allowed(policies(example), exporter_pod(example), SHOP_DRUPAL, Port(8443))


def test_only_prometheus_namespace_scrapes_the_metrics_port(example: list[dict[str, Any]]) -> None:
    exporter = exporter_pod(example)
    found = policies(example)
    assert connection_allowed(found, PROMETHEUS, exporter, Port(9918))
    assert not connection_allowed(found, PROMETHEUS, exporter, Port(8080))
    assert not connection_allowed(found, OTHER_SITE, exporter, Port(9918))


def test_the_base_fails_closed_until_the_overlay_sets_the_api_server() -> None:
    base = documents(K8S / "base")
    assert not egress_allowed(policies(base), exporter_pod(base), APISERVER, Port(6443))
    assert egress_allowed(policies(base), exporter_pod(base), host("192.0.2.1"), Port(6443))


def test_probe_ingresses_widens_by_the_ingress_controller_only(tmp_path: Path) -> None:
    docs = overlay_with(tmp_path, ["probe-ingresses"])
    exporter = exporter_pod(docs)
    assert connection_allowed(policies(docs), exporter, INGRESS_CONTROLLER, Port(443))
    assert connection_allowed(policies(docs), exporter, INGRESS_CONTROLLER, Port(80))
    assert not connection_allowed(policies(docs), exporter, INGRESS_CONTROLLER, Port(8443))
    assert not connection_allowed(policies(docs), exporter, INTERNET, Port(443))


@pytest.mark.parametrize(
    "components",
    [[], ["drupal-exec"], ["probe-ingresses"], ["argocd-gate", "argo-rollouts-analysis"]],
    ids=lambda c: "+".join(c) or "example",
)
def test_every_peer_of_every_policy_selects_a_real_endpoint(
    tmp_path: Path, components: list[str]
) -> None:
    """A peer that matches none of the real workloads (as the DNS peer once did, with our own
    labels injected into it) is a rule that silently allows nothing."""
    docs = overlay_with(tmp_path, components)
    exporter = exporter_pod(docs)
    ours = [d for d in docs if d["kind"] in ("Deployment", "Job")]
    own_pods = [exporter] + [
        pod("shop", d["spec"]["template"]["metadata"].get("labels", {}), "10.244.1.10")
        for d in ours
        if d["kind"] == "Job"
    ]
    for policy in policies(docs):
        namespace = policy["metadata"]["namespace"]
        spec = policy["spec"]
        assert any(selects(spec["podSelector"], p.labels) for p in own_pods), policy
        rules = [("to", r) for r in spec.get("egress", [])]
        rules += [("from", r) for r in spec.get("ingress", [])]
        for key, rule in rules:
            for peer in rule.get(key, []):
                single = {**policy, "spec": {"podSelector": {}, "egress": [{"to": [peer]}]}}
                matched = [
                    e
                    for e in [*CATALOG, *own_pods]
                    if any(
                        egress_allowed([single], Endpoint("10.0.0.1", namespace), e, port)
                        for port in (e.ports or (Port(1),))
                    )
                ]
                assert matched, f"{policy['metadata']['name']}: peer {peer} selects nothing"


# The evaluator itself, on the examples of the Kubernetes "Network Policies" concept page.


DOCS_POLICY = {
    "kind": "NetworkPolicy",
    "metadata": {"name": "test-network-policy", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"role": "db"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {
                "from": [
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                    {"podSelector": {"matchLabels": {"role": "frontend"}}},
                ],
                "ports": [{"protocol": "TCP", "port": 6379}],
            }
        ],
        "egress": [
            {
                "to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
                "ports": [{"protocol": "TCP", "port": 5978}],
            }
        ],
    },
}
DB = pod("default", {"role": "db"}, "10.1.0.5")


@pytest.mark.parametrize(
    ("source", "port", "allowed"),
    [
        (host("172.17.0.9"), Port(6379), True),
        (host("172.17.1.9"), Port(6379), False),  # except
        (pod("other", {}, "10.2.0.1", namespace_labels={"project": "myproject"}), Port(6379), True),
        (pod("default", {"role": "frontend"}, "10.1.0.6"), Port(6379), True),
        (pod("other", {"role": "frontend"}, "10.2.0.2"), Port(6379), False),  # not its namespace
        (pod("default", {"role": "frontend"}, "10.1.0.6"), Port(6380), False),
        (pod("default", {"role": "frontend"}, "10.1.0.6"), Port(6379, UDP), False),
    ],
)
def test_the_evaluator_on_the_documented_example(
    source: Endpoint, port: Port, allowed: bool
) -> None:
    assert connection_allowed([DOCS_POLICY], source, DB, port) is allowed


def test_the_evaluator_ands_namespace_and_pod_selectors_in_one_peer() -> None:
    """The concept page: one element with both selectors is AND, two elements are OR."""
    both = {
        "namespaceSelector": {"matchLabels": {"user": "alice"}},
        "podSelector": {"matchLabels": {"role": "client"}},
    }
    policy = {
        **DOCS_POLICY,
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [both]}]},
    }
    alice_client = pod("a", {"role": "client"}, "10.3.0.1", namespace_labels={"user": "alice"})
    alice_other = pod("a", {"role": "server"}, "10.3.0.2", namespace_labels={"user": "alice"})
    assert connection_allowed([policy], alice_client, DB, Port(80))
    assert not connection_allowed([policy], alice_other, DB, Port(80))


def test_the_evaluator_reads_match_expressions() -> None:
    selector = {
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["web", "api"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "team", "operator": "Exists"},
        ]
    }
    assert selects(selector, {"tier": "api", "team": "x"})
    assert not selects(selector, {"tier": "db", "team": "x"})
    assert not selects(selector, {"tier": "api", "team": "x", "legacy": "1"})
    assert not selects(selector, {"tier": "api", "team": "x", "env": "dev"})
    assert not selects(selector, {"tier": "api"})
    assert selects({}, {"anything": "goes"})
    assert not selects(None, {"anything": "goes"})
