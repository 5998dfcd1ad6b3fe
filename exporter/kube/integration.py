"""Kubernetes mode: discovery, the Deployment's maintenance annotation, and Events, together.

The exporter gives it callbacks (schedule these probes, the probe views, the site) and runs
``run()`` beside the scheduler. Discovered probes are scheduled next to the config's through
the scheduler's ``apply``: unchanged probes keep running, removed ones stop and their series
disappear. What cannot be read (a 403, a missing Deployment) is a ``discovery`` probe that is
UNKNOWN with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import anyio

from exporter.config import Site
from exporter.freeze import Freeze
from exporter.kube import problem
from exporter.kube.deployment import DeploymentWatch
from exporter.kube.discovery import discovered_probes
from exporter.kube.discovery import problem as problem_probe
from exporter.kube.events import SiteEvents
from exporter.kube.targets import TargetGuard
from exporter.kube_client.client import INGRESSES, SERVICES, KubeClient
from exporter.kube_client.cluster import NotInCluster
from exporter.kube_client.locate import find_cluster
from exporter.kube_client.reflector import Reflector
from exporter.kube_settings import KubernetesSettings
from exporter.maintenance import MaintenanceWindow
from exporter.probe_api import ProbeConfig
from exporter.registry import KindRegistry
from exporter.store import ProbeView

log = logging.getLogger(__name__)


def connect(settings: KubernetesSettings) -> KubeClient | str:
    """A client for the API server, or why there is none (not in a pod, no api_url)."""
    try:
        return KubeClient(find_cluster(settings))
    except NotInCluster as error:
        return f"kubernetes.enabled is true but {error}"


class KubernetesIntegration:
    def __init__(
        self,
        settings: KubernetesSettings,
        client: KubeClient | str,
        registry: KindRegistry,
        schedule: Callable[[tuple[ProbeConfig, ...]], None],
        views: Callable[[], list[ProbeView]],
        site: Callable[[], Site],
        watch_timeout: int | None = None,
    ) -> None:
        """``client`` is a string when there is none (``connect`` says why)."""
        self.settings = settings
        self.registry = registry
        self.schedule = schedule
        registry.register(problem.KIND)
        self.reflectors: dict[str, Reflector] = {}
        self.deployment: DeploymentWatch | None = None
        self.events: SiteEvents | None = None
        self.probes: tuple[ProbeConfig, ...] = ()
        self.guard = self._guard(client if not isinstance(client, str) else None, ())
        if isinstance(client, str):
            self.client: KubeClient | None = None
            self.startup_error: str | None = client
            return
        self.client, self.startup_error = client, None
        if settings.discovery.services:
            self.reflectors["services"] = Reflector(client, SERVICES, self.refresh, watch_timeout)
        if settings.discovery.ingresses:
            self.reflectors["ingresses"] = Reflector(client, INGRESSES, self.refresh, watch_timeout)
        if settings.deployment:
            interval = settings.maintenance_poll_interval
            self.deployment = DeploymentWatch(client, settings.deployment, interval)
        if settings.events.enabled:
            self.events = SiteEvents(client, settings.events, self._regarding, views, site)

    def _guard(self, client: KubeClient | None, own_addresses: tuple[str, ...]) -> TargetGuard:
        return target_guard(self.settings, client, own_addresses)

    async def run(self) -> None:
        self.refresh()
        if self.client is not None:
            addresses = await anyio.to_thread.run_sync(own_addresses, abandon_on_cancel=True)
            self.guard = self._guard(self.client, addresses)
            self.refresh()
        async with anyio.create_task_group() as task_group:
            for reflector in self.reflectors.values():
                task_group.start_soon(reflector.run)
            if self.deployment is not None:
                task_group.start_soon(self._poll_deployment)
            if self.events is not None:
                task_group.start_soon(self.events.run)

    async def _poll_deployment(self) -> None:
        assert self.deployment is not None
        while True:
            before = self.deployment.error
            await self.deployment.poll()
            if self.deployment.error != before:
                self.refresh()
            await anyio.sleep(self.deployment.interval)

    def maintenance(self) -> MaintenanceWindow | None:
        return self.deployment.window if self.deployment is not None else None

    def freeze(self) -> Freeze | None:
        return self.deployment.freeze if self.deployment is not None else None

    def refresh(self) -> None:
        """Work out the probes again and schedule them if they changed."""
        probes = self.current_probes()
        if probes != self.probes:
            known = {p.reason for p in self.probes if isinstance(p, problem.DiscoveryProblem)}
            for probe in probes:
                if isinstance(probe, problem.DiscoveryProblem) and probe.reason not in known:
                    log.warning("kubernetes: %s (probe %s is UNKNOWN)", probe.reason, probe.name)
            self.probes = probes
            self.schedule(probes)

    def current_probes(self) -> tuple[ProbeConfig, ...]:
        if self.client is None:
            return (problem_probe("kubernetes", "kubernetes", self.startup_error or ""),)
        http = self.registry.get("http").config
        services = self.reflectors.get("services")
        ingresses = self.reflectors.get("ingresses")
        found: list[ProbeConfig] = discovered_probes(
            http,
            services.objects.values() if services else (),
            ingresses.objects.values() if ingresses else (),
            self.client.namespace,
            self.settings.discovery,
            self.guard,
        )
        for name, reflector in self.reflectors.items():
            if reflector.error is not None and not reflector.synced:
                found.append(problem_probe(f"discovery/{name}", name, reflector.error))
        if self.deployment is not None and self.deployment.error is not None:
            found.append(
                problem_probe(
                    f"deployment/{self.settings.deployment}", "deployment", self.deployment.error
                )
            )
        return tuple(found)

    def _regarding(self) -> dict[str, Any]:
        if self.deployment is not None:
            return self.deployment.reference()
        namespace = self.client.namespace if self.client is not None else ""
        pod = socket.gethostname()
        return {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": namespace}


def target_guard(
    settings: KubernetesSettings, client: KubeClient | None, own_addresses: tuple[str, ...]
) -> TargetGuard:
    """The API server (the client's host, the ``kubernetes`` Service's address) and the
    exporter (its host name, addresses, and its own Service) are never probed."""
    discovery = settings.discovery
    api_hosts = [os.environ.get("KUBERNETES_SERVICE_HOST", "")]
    own = [socket.gethostname(), *own_addresses]
    if client is not None:
        api_hosts.append(urlsplit(client.config.base_url).hostname or "")
        if settings.deployment:
            own.append(f"{settings.deployment}.{client.namespace}.svc.{discovery.cluster_domain}")
    return TargetGuard.build(discovery.cluster_domain, discovery.allowed_hosts, api_hosts, own)


def own_addresses() -> tuple[str, ...]:
    """The addresses of this host's name (in a pod: the pod IP, from /etc/hosts)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ()
    return tuple(sorted({str(info[4][0]) for info in infos}))
