"""Kubernetes for the one-shot ``site-status check``: discover once, run everything once.

The same discovery as ``run`` (the same annotations, the same trust rules), from one list of
services and ingresses instead of a watch; what cannot be listed is a ``discovery`` probe that
is UNKNOWN with the reason, as in ``run``. From a laptop the client comes from the kubeconfig
(``--context``); ingress hosts are reachable from there, service names only with a route into
the cluster network.
"""

from __future__ import annotations

import anyio
import httpx

from exporter.config import SiteStatusConfig
from exporter.kube import problem
from exporter.kube.discovery import discovered_probes
from exporter.kube.discovery import problem as problem_probe
from exporter.kube.integration import connect, own_addresses, target_guard
from exporter.kube_client.client import (
    CLIENT_KEY,
    INGRESSES,
    SERVICES,
    ApiError,
    KubeClient,
    Object,
)
from exporter.probe_api import ProbeConfig
from exporter.registry import KindRegistry
from exporter.scheduler import ProbeRunner, run_all_once
from exporter.store import ResultStore


async def run_once_with_discovery(
    runner: ProbeRunner, config: SiteStatusConfig, store: ResultStore, registry: KindRegistry
) -> None:
    registry.register(problem.KIND)
    client = connect(config.kubernetes)
    if isinstance(client, str):
        found: tuple[ProbeConfig, ...] = (problem_probe("kubernetes", "kubernetes", client),)
    else:
        runner.runtime.shared(CLIENT_KEY, lambda: client)  # the kubernetes command runner
        found = await discover(client, config, registry)
    names = {probe.name for probe in config.probes}
    extra = tuple(probe for probe in found if probe.name not in names)
    config = config.model_copy(update={"probes": (*config.probes, *extra)})
    await run_all_once(runner, config, store, config.exporter.concurrency)


async def discover(
    client: KubeClient, config: SiteStatusConfig, registry: KindRegistry
) -> tuple[ProbeConfig, ...]:
    settings = config.kubernetes
    addresses = await anyio.to_thread.run_sync(own_addresses, abandon_on_cancel=True)
    listed: dict[str, list[Object]] = {"services": [], "ingresses": []}
    problems: list[ProbeConfig] = []
    for name, resource, wanted in (
        ("services", SERVICES, settings.discovery.services),
        ("ingresses", INGRESSES, settings.discovery.ingresses),
    ):
        if not wanted:
            continue
        try:
            listed[name] = list((await client.list(resource)).get("items") or [])
        except (ApiError, httpx.HTTPError, OSError, ValueError) as error:
            problems.append(problem_probe(f"discovery/{name}", name, f"{name}: {error}"))
    probes = discovered_probes(
        registry.get("http").config,
        listed["services"],
        listed["ingresses"],
        client.namespace,
        settings.discovery,
        target_guard(settings, client, addresses),
    )
    return (*probes, *problems)
