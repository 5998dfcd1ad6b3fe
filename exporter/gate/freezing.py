"""Setting and lifting a site's freeze on its exporter's Deployment, and the Events that record
a freeze, a lift and an override (``kubectl describe deployment site-status`` shows them).

Talks to the API server with the exporter's own client: in a pod as its service account (the
argocd-gate component's Role grants exactly this), elsewhere through the kubeconfig
(``SITE_STATUS_KUBERNETES__*`` variables override, as for the exporter).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx

from exporter.freeze import Freeze, freeze_patch, unfreeze_patch
from exporter.kube.events import NOTE_LIMIT, cut_utf8, micro_time
from exporter.kube_client.client import DEPLOYMENTS, EVENTS, ApiError, KubeClient
from exporter.kube_client.cluster import ClusterConfig, NotInCluster
from exporter.kube_client.locate import cluster_from_environment

REPORTING_CONTROLLER = "site-status.io/gate"
DEFAULT_DEPLOYMENT = "site-status"


@dataclass(frozen=True)
class Target:
    """Where a site's freeze lives: its exporter's Deployment."""

    namespace: str
    deployment: str = DEFAULT_DEPLOYMENT

    def __str__(self) -> str:
        return f"deployment {self.namespace}/{self.deployment}"


@dataclass(frozen=True)
class Change:
    """One site's change: the merge patch for its Deployment (None: none) and its Event."""

    target: Target
    patch: dict[str, Any] | None
    reason: str  # the Event's reason: Frozen, Unfrozen, GateOverridden
    note: str
    warning: bool = True


def cluster() -> ClusterConfig:
    """The API server, or ``NotInCluster`` with why not."""
    return cluster_from_environment()


def own_namespace() -> str | None:
    try:
        return cluster().namespace
    except NotInCluster:
        return None


def who() -> str:
    """Who acts, when not told: the pipeline's user, or the pod (host) name."""
    for variable in ("GITLAB_USER_LOGIN", "GITHUB_ACTOR", "USER"):
        if os.environ.get(variable):
            return os.environ[variable]
    return socket.gethostname()


def freeze_change(target: Target, freeze: Freeze) -> Change:
    note = f"deploy freeze by {freeze.by or 'unknown'}: {freeze.reason}"
    return Change(target, freeze_patch(freeze), "Frozen", note)


def unfreeze_change(target: Target, reason: str, by: str) -> Change:
    note = f"deploy freeze lifted by {by or 'unknown'}: {reason}"
    return Change(target, unfreeze_patch(), "Unfrozen", note, warning=False)


def override_change(target: Target, reason: str, by: str, overridden: str) -> Change:
    note = f"gate overridden by {by or 'unknown'}: {reason} (overrode: {overridden})"
    return Change(target, None, "GateOverridden", note)


def _event(change: Change, deployment: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    meta = deployment.get("metadata") or {}
    regarding = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": change.target.deployment,
        "namespace": change.target.namespace,
    }
    if meta.get("uid"):
        regarding["uid"] = meta["uid"]
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {
            "generateName": f"{change.target.deployment}.",
            "namespace": change.target.namespace,
        },
        "eventTime": micro_time(now),
        "reportingController": REPORTING_CONTROLLER,
        "reportingInstance": cut_utf8(socket.gethostname(), 128, ""),
        "action": change.reason,
        "reason": change.reason,
        "regarding": regarding,
        "note": cut_utf8(change.note, NOTE_LIMIT),
        "type": "Warning" if change.warning else "Normal",
    }


async def _apply_one(config: ClusterConfig, change: Change) -> None:
    client = KubeClient(dataclasses.replace(config, namespace=change.target.namespace))
    try:
        if change.patch is not None:
            deployment = await client.merge_patch(
                DEPLOYMENTS, change.target.deployment, change.patch
            )
        else:
            deployment = await client.get(DEPLOYMENTS, change.target.deployment)
        await client.create(EVENTS, _event(change, deployment))
    finally:
        await client.aclose()


def apply(changes: Sequence[Change]) -> list[str]:
    """Make the changes; the problems, one line each (empty: all made)."""
    if not changes:
        return []
    try:
        config = cluster()
    except NotInCluster as error:
        return [f"cannot reach Kubernetes: {error}"]
    problems: list[str] = []

    async def main() -> None:
        for change in changes:
            try:
                await _apply_one(config, change)
            except (ApiError, httpx.HTTPError, OSError, ValueError) as error:
                problems.append(f"{change.target}: {error}")

    anyio.run(main)
    return problems
