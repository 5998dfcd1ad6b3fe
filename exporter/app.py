"""Wiring: config, store, scheduler, HTTP server and reports; SIGHUP reloads, SIGTERM stops."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from exporter.blocking import BlockingRunner, BlockingTimeout
from exporter.config import ConfigInvalid, Site, SiteStatusConfig, load_config, parse_listen
from exporter.context import ProbeRuntime
from exporter.history import History
from exporter.interrupts import handed_to_loop
from exporter.memory import release_freed_memory
from exporter.probe_api import ProbeConfig
from exporter.registry import KindRegistry
from exporter.reports.service import Reporting
from exporter.reports.stats import ReportStats
from exporter.run_stats import ExporterHealth, RunStats
from exporter.scheduler import ProbeRunner, Scheduler, probe_spec
from exporter.store import ResultStore
from exporter.web.httpd import HttpServer
from exporter.web.metrics import Exposition, SelfMetrics
from exporter.web.server import RENDER_AHEAD_INTERVAL, Endpoints, serve, tick

if TYPE_CHECKING:
    from exporter.kube.integration import KubernetesIntegration

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0
#: A reload that has not read and validated the config by then keeps the last good one.
RELOAD_DEADLINE = 10.0
#: The final snapshot at shutdown (a local append, or a spool append for Loki).
SHUTDOWN_REPORT_SECONDS = 1.0


class ListenError(Exception):
    """The HTTP server cannot listen where asked (a busy port, an unknown host)."""


class Exporter:
    """One running exporter: holds the current config and everything built from it."""

    def __init__(
        self,
        config: SiteStatusConfig,
        registry: KindRegistry,
        config_path: str | Path | None,
        listen: str | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.config_path = config_path
        self.listen = listen or config.exporter.listen
        self.store = ResultStore()
        # Listed from the first request on ("no result yet"), not only once the scheduler runs.
        self.store.configure(probe_spec(probe, config.timing(probe)) for probe in config.probes)
        self.blocking = BlockingRunner()
        self.health = ExporterHealth()
        self.stats = RunStats()
        self.runtime = ProbeRuntime.with_roots(
            config.exporter.proc_root, config.exporter.sys_root, self.blocking
        )
        self.runner = ProbeRunner(registry, self.runtime, self.stats)
        self.report_stats = ReportStats()
        self.kubernetes: KubernetesIntegration | None = None
        self.history = History()
        self.reporting = Reporting(
            config.reports, self.site, self.store, self.blocking, self.report_stats, self.history
        )
        self.scheduler = Scheduler(self.runner, self.store, self.reporting.on_result)
        self.exposition = Exposition(
            self.store,
            registry.families,
            self.site,
            self.stats,
            self.health,
            self.blocking,
            lambda: self.config.exporter.node,
        )
        self.endpoints = Endpoints(
            self.exposition,
            SelfMetrics(self.report_stats),
            self.store,
            self.health,
            self.blocking,
            self.site,
            self.history,
        )
        self.server: HttpServer | None = None
        #: Probes found at run time (Kubernetes discovery), scheduled beside the config's.
        self.discovered: tuple[ProbeConfig, ...] = ()
        self._reloading = False
        self._reload_requested = False
        self._stop = anyio.Event()
        self._stop_signal: int | None = None
        self._shutdown_scope: anyio.CancelScope | None = None
        self._config_reads_in_flight = 0
        if config.kubernetes.enabled:
            self.kubernetes = self._kubernetes()

    def _kubernetes(self) -> KubernetesIntegration:
        from exporter.kube.integration import KubernetesIntegration, connect
        from exporter.kube_client.client import CLIENT_KEY

        client = connect(self.config.kubernetes)
        if not isinstance(client, str):  # the kubernetes command runner uses it too
            self.runtime.shared(CLIENT_KEY, lambda: client)
        return KubernetesIntegration(
            self.config.kubernetes,
            client,
            self.registry,
            self.schedule_discovered,
            self.store.views,
            self.site,
        )

    def site(self) -> Site:
        """The config's site, with the maintenance and the freeze declared on the Deployment
        (Kubernetes)."""
        if self.kubernetes is None:
            return self.config.site
        window = self.kubernetes.maintenance()
        freeze = self.kubernetes.freeze()
        site = self.config.site
        if window is not None:
            site = site.model_copy(update={"maintenance": (*site.maintenance, window)})
        return site.with_freeze(freeze) if freeze is not None else site

    def scheduled_config(self, config: SiteStatusConfig | None = None) -> SiteStatusConfig:
        """The config with the discovered probes added (a static probe keeps its name)."""
        config = config or self.config
        if not self.discovered:
            return config
        names = {probe.name for probe in config.probes}
        extra = [probe for probe in self.discovered if probe.name not in names]
        for probe in self.discovered:
            if probe.name in names:
                log.warning("discovered probe %s has the name of a configured one", probe.name)
        return config.model_copy(update={"probes": (*config.probes, *extra)})

    def schedule_discovered(self, probes: tuple[ProbeConfig, ...]) -> None:
        self.discovered = probes
        self.scheduler.apply(self.scheduled_config())

    async def reload(self) -> bool:
        """Load the config again in a worker thread, within a deadline (the file may sit on a
        hung mount, and parsing a large one takes CPU); on error keep the last good one."""
        if self._config_reads_in_flight:  # one stuck read is enough: start no other
            return self._reload_failed("the previous read of the config has not returned")
        self._config_reads_in_flight += 1

        def read() -> SiteStatusConfig:
            try:
                return load_config(self.config_path, self.registry)
            finally:
                self._config_reads_in_flight -= 1

        try:
            config = await self.blocking.call(read, resource=None, timeout=RELOAD_DEADLINE)
        except ConfigInvalid as error:
            return self._reload_failed(str(error), error.summary())
        except BlockingTimeout:
            return self._reload_failed(
                f"the config was not read within {RELOAD_DEADLINE:g}s (a hung mount?)"
            )
        self.apply(config)
        return True

    def _reload_failed(self, reason: str, summary: str | None = None) -> bool:
        # /healthz answers anyone: it gets the count and the first path, never the text.
        self.health.reloaded(summary or reason)
        log.error("config reload failed, keeping the last good config: %s", reason)
        return False

    def apply(self, config: SiteStatusConfig) -> None:
        """Put a newly loaded config in force."""
        if config.exporter.listen != self.config.exporter.listen:
            log.warning("exporter.listen changed: takes effect at the next restart")
        self.reporting.reconfigure(config.reports)
        if config.kubernetes != self.config.kubernetes:
            log.warning("kubernetes settings changed: take effect at the next restart")
        self.config = config
        self.scheduler.apply(self.scheduled_config())
        self.health.reloaded()
        release_freed_memory()
        log.info("config reloaded: %d probes", len(config.probes))

    async def _reload_on_request(self) -> None:
        """Reload until no SIGHUP came in meanwhile (one reload runs at a time)."""
        self._reloading = True
        try:
            while self._reload_requested:
                self._reload_requested = False
                await self.reload()
        finally:
            self._reloading = False

    async def serve(self) -> None:
        """Serve until SIGTERM or SIGINT (from the first line on: one during start-up stops it
        as cleanly as one later); a second one cuts the final push short."""
        with handed_to_loop(self._on_stop_signal):
            await self._serve()

    def _on_stop_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self._stop_signal is None:
            self._stop_signal = signum
            log.info("received %s, stopping", name)
            self._stop.set()
        elif self._shutdown_scope is not None:
            log.warning("received %s again: not waiting for the final push", name)
            self._shutdown_scope.cancel()

    async def _serve(self) -> None:
        release_freed_memory()  # what loading the config took and no longer needs
        host, port = parse_listen(self.listen)
        try:
            self.server = serve(host, port, self.endpoints)
        except OSError as error:
            reason = error.strerror or str(error)
            raise ListenError(f"cannot listen on {self.listen}: {reason}") from None
        self.server.start()
        log.info(
            "site-status serving on %s:%d with %d probes (site %s)",
            host,
            self.server.port,
            len(self.config.probes),
            self.config.site.name,
        )
        try:
            await self.reporting.open()
            async with anyio.create_task_group() as reporting:
                reporting.start_soon(self.reporting.run)
                await self._serve_until_signalled()
                # The final snapshot, then what is queued for Loki, within a bound.
                budget = SHUTDOWN_REPORT_SECONDS + self.reporting.flush_timeout()
                with anyio.move_on_after(budget, shield=True) as self._shutdown_scope:
                    await self.reporting.shutdown()
                reporting.cancel_scope.cancel()
            with anyio.move_on_after(1.0, shield=True):
                await self.reporting.aclose()
            await self.runtime.aclose()
        finally:
            self.server.close()
            log.info("stopped")

    async def _serve_until_signalled(self) -> None:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self.scheduler.run, self.scheduled_config())
            if self.kubernetes is not None:
                task_group.start_soon(self._run_kubernetes, self.kubernetes)
            task_group.start_soon(self._heartbeat)
            task_group.start_soon(self._render_metrics_ahead)
            task_group.start_soon(self._reload_on_sighup, task_group)
            await self._stop.wait()
            task_group.cancel_scope.cancel()

    async def _reload_on_sighup(self, task_group: anyio.abc.TaskGroup) -> None:
        with anyio.open_signal_receiver(signal.SIGHUP) as signals:
            async for _ in signals:
                # In a task of its own: SIGTERM is heard while a reload runs.
                self._reload_requested = True
                if not self._reloading:
                    task_group.start_soon(self._reload_on_request)

    async def _run_kubernetes(self, kubernetes: KubernetesIntegration) -> None:
        await self.scheduler.started.wait()  # discovered probes go through scheduler.apply
        await kubernetes.run()

    async def _heartbeat(self) -> None:
        while True:
            self.health.beat()
            await anyio.sleep(HEARTBEAT_INTERVAL)

    async def _render_metrics_ahead(self) -> None:
        while True:
            await anyio.sleep(RENDER_AHEAD_INTERVAL)
            try:
                tick(self.endpoints)
            except Exception:  # a scrape then renders (and reports) it itself
                log.exception("rendering /metrics ahead failed")
