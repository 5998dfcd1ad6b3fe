"""The Roles in k8s/ grant exactly what the code uses: no verb, resource or name more.

The code declares its (group, resource, verb) triples in ``exporter.kube_client.permissions`` and
the client refuses any request not declared there (tests/kube/test_client.py); the end-to-end tests
check that every declared triple is actually used against the API double (which itself authorizes
from these Roles). This test closes the loop: Roles == declarations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.kube_client import permissions
from exporter.kube_client.permissions import Permission
from exporter.kube_settings import KubernetesSettings
from tests.support.kube_api import BASE_ROLE, EXEC_ROLE
from tests.support.kustomize import K8S, documents


def granted(rules: list[dict[str, Any]]) -> set[Permission]:
    return {
        Permission(group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def role(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    assert document["kind"] == "Role"  # namespaced: never a ClusterRole
    return document


def test_the_base_role_grants_what_the_exporter_uses() -> None:
    rules = role(BASE_ROLE)["rules"]
    assert granted(rules) == permissions.BASE
    assert "*" not in str(rules)


def test_the_deployment_rule_names_only_the_exporters_own() -> None:
    rules = role(BASE_ROLE)["rules"]
    (deployments,) = [r for r in rules if r["resources"] == ["deployments"]]
    assert deployments["resourceNames"] == [KubernetesSettings().deployment]
    for rule in rules:
        if rule is not deployments:
            assert "resourceNames" not in rule


def test_the_drupal_exec_component_grants_only_exec() -> None:
    rules = role(EXEC_ROLE)["rules"]
    assert granted(rules) == permissions.EXEC
    assert not granted(rules) & permissions.BASE


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [("example", permissions.BASE), ("example-drupal", permissions.ALL)],
)
def test_the_rendered_overlays_grant_nothing_else(
    overlay: str, expected: set[Permission] | frozenset[Permission]
) -> None:
    """The plain example has no drupal probe, so no exec; the drupal example has both."""
    docs = documents(K8S / "overlays" / overlay)
    kinds = {doc["kind"] for doc in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    rules = [rule for doc in docs if doc["kind"] == "Role" for rule in doc["rules"]]
    assert granted(rules) == expected


def test_the_gate_component_grants_only_the_freeze_and_its_events() -> None:
    path = K8S / "components" / "argocd-gate" / "rbac.yaml"
    (gate_role,) = [d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == "Role"]
    assert granted(gate_role["rules"]) == permissions.GATE
    (deployments,) = [r for r in gate_role["rules"] if r["resources"] == ["deployments"]]
    assert deployments["resourceNames"] == [KubernetesSettings().deployment]
