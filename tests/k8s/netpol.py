"""NetworkPolicy semantics, as the Kubernetes API documents them, for rendered manifests.

Not a CNI: a reading of ``networking.k8s.io/v1`` (the API reference and the "Network Policies"
concept page) precise enough to ask "may this pod open this connection?" of the policies a
kustomize build renders:

- a policy applies to the pods of its namespace its ``podSelector`` selects, in the directions
  of its ``policyTypes``; a pod no policy selects in a direction is not isolated in it;
- policies add up: a connection is allowed if any rule of any policy that selects the pod
  allows it;
- a rule with no ``to``/``from`` allows every peer, with no ``ports`` every port;
- a peer with ``podSelector`` only selects pods of the policy's namespace; with
  ``namespaceSelector`` only, every pod of the selected namespaces; with both, the pods the
  pod selector selects in the namespaces the namespace selector selects (AND); ``ipBlock``
  matches addresses (``cidr`` minus ``except``). Endpoints that are not pods (the API server
  on the control plane's host network, addresses outside the cluster) match ``ipBlock`` only;
- a label selector's ``matchLabels`` and ``matchExpressions`` (In, NotIn, Exists,
  DoesNotExist) must all hold; an empty selector selects everything;
- a port is a number or a named port of the destination container; ``endPort`` makes a range;
  the protocol defaults to TCP. Ports are those of the pod (after a Service's DNAT).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Labels = Mapping[str, str]


class SelectorError(ValueError):
    pass


def selects(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """Whether a ``metav1.LabelSelector`` selects an object with ``labels``."""
    if selector is None:
        return False  # an absent selector selects nothing (an empty one selects everything)
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In":
            ok = key in labels and labels[key] in values
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise SelectorError(f"unknown selector operator {operator!r}")
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (namespace and labels) or an address that is not one."""

    ip: str
    namespace: str | None = None  # None: not a pod (host network, outside the cluster)
    labels: Labels = field(default_factory=dict)
    namespace_labels: Labels = field(default_factory=dict)
    ports: tuple[Port, ...] = ()  # the container ports, for named ports in policies

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None


def pod(
    namespace: str,
    labels: Labels,
    ip: str,
    ports: Sequence[Port] = (),
    namespace_labels: Labels | None = None,
) -> Endpoint:
    """A pod; its namespace carries ``kubernetes.io/metadata.name`` as every namespace does
    since Kubernetes 1.21 (the API server sets it, immutably)."""
    ns_labels = {"kubernetes.io/metadata.name": namespace, **(namespace_labels or {})}
    return Endpoint(ip, namespace, dict(labels), ns_labels, tuple(ports))


def host(ip: str) -> Endpoint:
    return Endpoint(ip)


def _peer_matches(peer: Mapping[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if not other.is_pod:
        return False
    pod_selector = peer.get("podSelector")
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        in_namespace = other.namespace == policy_namespace
    else:
        in_namespace = selects(namespace_selector, other.namespace_labels)
    if not in_namespace:
        return False
    return pod_selector is None or selects(pod_selector, other.labels)


def _port_matches(rule_port: Mapping[str, Any], port: Port, destination: Endpoint) -> bool:
    if rule_port.get("protocol", "TCP") != port.protocol:
        return False
    wanted = rule_port.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        named = [p for p in destination.ports if p.name == wanted and p.protocol == port.protocol]
        return any(p.number == port.number for p in named)
    end = rule_port.get("endPort", wanted)
    return bool(wanted <= port.number <= end)


def _rule_allows(
    rule: Mapping[str, Any],
    peers_key: str,
    policy_namespace: str,
    peer: Endpoint,
    port: Port,
    destination: Endpoint,
) -> bool:
    peers = rule.get(peers_key)
    if peers and not any(_peer_matches(p, policy_namespace, peer) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(_port_matches(p, port, destination) for p in ports)


def _namespace(policy: Mapping[str, Any]) -> str:
    """A policy rendered without a namespace lands in the default one."""
    return str(policy["metadata"].get("namespace") or "default")


def _policy_types(spec: Mapping[str, Any]) -> list[str]:
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]


def _selecting(
    policies: Sequence[Mapping[str, Any]], subject: Endpoint, direction: str
) -> list[Mapping[str, Any]]:
    return [
        policy
        for policy in policies
        if policy["kind"] == "NetworkPolicy"
        and _namespace(policy) == subject.namespace
        and selects(policy["spec"].get("podSelector", {}), subject.labels)
        and direction in _policy_types(policy["spec"])
    ]


def egress_allowed(
    policies: Sequence[Mapping[str, Any]], source: Endpoint, destination: Endpoint, port: Port
) -> bool:
    """Whether the source pod's policies let it open ``port`` on ``destination``."""
    selecting = _selecting(policies, source, "Egress")
    if not selecting:
        return True
    return any(
        _rule_allows(rule, "to", _namespace(policy), destination, port, destination)
        for policy in selecting
        for rule in policy["spec"].get("egress") or []
    )


def ingress_allowed(
    policies: Sequence[Mapping[str, Any]], source: Endpoint, destination: Endpoint, port: Port
) -> bool:
    """Whether the destination pod's policies let ``source`` in on ``port``."""
    selecting = _selecting(policies, destination, "Ingress")
    if not selecting:
        return True
    return any(
        _rule_allows(rule, "from", _namespace(policy), source, port, destination)
        for policy in selecting
        for rule in policy["spec"].get("ingress") or []
    )


def connection_allowed(
    policies: Sequence[Mapping[str, Any]], source: Endpoint, destination: Endpoint, port: Port
) -> bool:
    """Both ends agree: egress at the source (if a pod), ingress at the destination (if one)."""
    out = egress_allowed(policies, source, destination, port) if source.is_pod else True
    into = ingress_allowed(policies, source, destination, port) if destination.is_pod else True
    return out and into
