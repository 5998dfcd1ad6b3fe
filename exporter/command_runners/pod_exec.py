"""The ``kubernetes`` runner: a command in a pod of the namespace, through ``pods/exec``.

It lists the pods matching a label selector, picks a Running and Ready one (by name, so the
choice is stable), and runs the command there over the exec websocket with the same deadline
and output caps as a local child. ``exec`` has no working directory or environment, and a
command abandoned at the deadline keeps running in the pod, so the command goes through
``/bin/sh`` (every Drupal image has it): ``cd`` to the directory, ``env`` for the variables,
and ``timeout -s KILL`` (coreutils or busybox, where present) a second after our deadline.
Needs the ``drupal-exec`` Role (``k8s/components/drupal-exec``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from exporter.command_runners import CommandOutput, CommandRunner, CommandSpec, CommandUnavailable
from exporter.failure_text import network_failure
from exporter.kube_client.client import CLIENT_KEY, PODS, ApiError, KubeClient
from exporter.kube_client.cluster import NotInCluster
from exporter.probe_api import ProbeContext

#: The wrapper script: $1 directory (may be empty), $2 seconds for timeout, then NAME=VALUE
#: pairs and the command, as ``env`` takes them.
WRAPPER = (
    'd=$1; t=$2; shift 2; if [ -n "$d" ]; then cd "$d" || exit 126; fi; '
    'if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL "$t" env "$@"; fi; '
    'exec env "$@"'
)


def kubernetes_runner(selector: str, container: str | None, context: ProbeContext) -> CommandRunner:
    """A runner that execs into a pod matching ``selector`` (``app=drupal``), in ``container``
    (None: the pod's default container)."""
    return KubernetesRunner(selector, container, context)


def wrapped_argv(spec: CommandSpec) -> list[str]:
    seconds = str(math.ceil(spec.timeout) + 1)
    pairs = [f"{name}={value}" for name, value in spec.env.items()]
    return ["/bin/sh", "-c", WRAPPER, "site-status", spec.cwd or "", seconds, *pairs, *spec.argv]


class KubernetesRunner:
    def __init__(self, selector: str, container: str | None, context: ProbeContext) -> None:
        self.selector = selector
        self.container = container
        self.context = context

    def _client(self) -> KubeClient:
        try:
            return self.context.shared(CLIENT_KEY, KubeClient.from_environment)
        except NotInCluster as error:
            raise CommandUnavailable(f"no Kubernetes API: {error}") from None

    async def run(self, spec: CommandSpec) -> CommandOutput:
        from exporter.kube_client.exec import ExecFailed, pod_exec

        client = self._client()
        pod = await self._pick_pod(client)
        budget = max(0.0, min(spec.timeout, self.context.remaining()))
        try:
            result = await pod_exec(
                client, pod, wrapped_argv(spec), self.container, budget, spec.max_output_bytes
            )
        except ExecFailed as error:
            raise CommandUnavailable(
                f"exec in pod {pod}: {_explain(error.code, str(error))}"
            ) from None
        except (OSError, httpx.HTTPError) as error:
            raise unreachable(client, error, f"exec in pod {pod}: ") from None
        return CommandOutput(
            exit_code=result.exit_code,
            stdout=bytes(result.stdout.data),
            stderr=bytes(result.stderr.data),
            duration=result.duration,
            timed_out=result.timed_out,
            stdout_truncated=result.stdout.truncated,
            stderr_truncated=result.stderr.truncated,
        )

    async def _pick_pod(self, client: KubeClient) -> str:
        try:
            listing = await client.list(PODS, label_selector=self.selector)
        except ApiError as error:
            raise CommandUnavailable(
                f"cannot list pods {self.selector!r}: {_explain(error.code, str(error))}"
            ) from None
        except (OSError, httpx.HTTPError) as error:
            raise unreachable(client, error) from None
        pods = sorted(listing.get("items") or [], key=lambda pod: pod["metadata"]["name"])
        if not pods:
            raise CommandUnavailable(
                f"no pod matches {self.selector!r} in namespace {client.namespace}"
            )
        usable = [pod for pod in pods if _running_and_ready(pod)]
        if self.container:
            usable = [pod for pod in usable if self.container in _containers(pod)]
            if not usable and all(self.container not in _containers(pod) for pod in pods):
                raise CommandUnavailable(
                    f"no pod matching {self.selector!r} has a container {self.container!r}"
                )
        if not usable:
            states = ", ".join(f"{p['metadata']['name']}: {_state(p)}" for p in pods[:5])
            raise CommandUnavailable(
                f"no running and ready pod matches {self.selector!r} ({states})"
            )
        return str(usable[0]["metadata"]["name"])


def unreachable(client: KubeClient, error: Exception, doing: str = "") -> CommandUnavailable:
    """``cannot connect to 10.96.0.1:443: connection refused``, as every kind words it."""
    parts = urlsplit(client.config.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    failure = network_failure(parts.hostname or "", port, error)
    return CommandUnavailable(doing + client.mask(failure.text), failure.reason)


def _running_and_ready(pod: dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return status.get("phase") == "Running" and ready


def _containers(pod: dict[str, Any]) -> Sequence[str]:
    return [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]


def _state(pod: dict[str, Any]) -> str:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "terminating"
    phase = str((pod.get("status") or {}).get("phase") or "Unknown")
    return phase if phase != "Running" else "not ready"


def _explain(code: int | None, message: str) -> str:
    if code == 403:
        return f"{message} (the exporter's Role needs the drupal-exec component)"
    return message
