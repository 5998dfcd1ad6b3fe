"""Wiring: config, store, scheduler, HTTP server and reports; SIGHUP reloads, SIGTERM stops."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path

import anyio

from exporter.blocking import BlockingRunner
from exporter.config import ConfigInvalid, SiteStatusConfig, load_config, parse_listen
from exporter.context import ProbeRuntime
from exporter.health import ExporterHealth, RunStats
from exporter.memory import release_freed_memory
from exporter.metrics import Exposition, SelfMetrics, render_probe_lines
from exporter.registry import KindRegistry
from exporter.reports import JsonlReportSink, snapshot_report, transition_report
from exporter.scheduler import ProbeRunner, Scheduler
from exporter.server import RENDER_AHEAD_INTERVAL, Endpoints, HttpServer
from exporter.store import ProbeState, ResultStore

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 1.0


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
        self.blocking = BlockingRunner()
        self.health = ExporterHealth()
        self.stats = RunStats()
        self.runtime = ProbeRuntime.with_roots(
            config.exporter.proc_root, config.exporter.sys_root, self.blocking
        )
        self.runner = ProbeRunner(registry, self.runtime, self.stats)
        self.reports = JsonlReportSink(config.reports, self.blocking, self.health)
        self.scheduler = Scheduler(self.runner, self.store, self._render, self._on_result)
        self.exposition = Exposition(
            self.store,
            registry.families,
            lambda: self.config.site,
            self.stats,
            self.health,
            self.blocking,
        )
        self.endpoints = Endpoints(
            self.exposition,
            SelfMetrics(),
            self.store,
            self.health,
            self.blocking,
            lambda: self.config.site,
        )
        self.server: HttpServer | None = None

    def _render(self, state: ProbeState) -> dict[str, str]:
        return render_probe_lines(state, self.registry.families())

    async def _on_result(self, before: ProbeState, after: ProbeState) -> None:
        report = transition_report(self.config.site, before, after)
        if report is not None:
            await self.reports.write([report])

    def reload(self) -> bool:
        """Load the config again; on error keep the last good one and say so."""
        try:
            config = load_config(self.config_path, self.registry)
        except ConfigInvalid as error:
            self.health.reloaded(str(error))
            log.error("config reload failed, keeping the last good config: %s", error)
            return False
        if config.exporter.listen != self.config.exporter.listen:
            log.warning("exporter.listen changed: takes effect at the next restart")
        if config.reports != self.config.reports:
            self.reports = JsonlReportSink(config.reports, self.blocking, self.health)
        self.config = config
        self.scheduler.apply(config)
        self.health.reloaded()
        release_freed_memory()
        log.info("config reloaded: %d probes", len(config.probes))
        return True

    async def serve(self) -> None:
        """Serve until SIGTERM or SIGINT."""
        release_freed_memory()  # what loading the config took and no longer needs
        host, port = parse_listen(self.listen)
        self.server = HttpServer(host, port, self.endpoints)
        self.server.start()
        log.info(
            "site-status serving on %s:%d with %d probes (site %s)",
            host,
            self.server.port,
            len(self.config.probes),
            self.config.site.name,
        )
        try:
            with anyio.open_signal_receiver(
                signal.SIGTERM, signal.SIGINT, signal.SIGHUP
            ) as signals:
                async with anyio.create_task_group() as task_group:
                    task_group.start_soon(self.scheduler.run, self.config)
                    task_group.start_soon(self._heartbeat)
                    task_group.start_soon(self._snapshots)
                    task_group.start_soon(self._render_metrics_ahead)
                    async for signum in signals:
                        if signum == signal.SIGHUP:
                            self.reload()
                            continue
                        log.info("received %s, stopping", signal.Signals(signum).name)
                        break
                    task_group.cancel_scope.cancel()
            with anyio.move_on_after(1.0, shield=True):
                await self.write_snapshot()
            await self.runtime.aclose()
        finally:
            self.server.close()
            log.info("stopped")

    async def _heartbeat(self) -> None:
        while True:
            self.health.beat()
            await anyio.sleep(HEARTBEAT_INTERVAL)

    async def _render_metrics_ahead(self) -> None:
        while True:
            await anyio.sleep(RENDER_AHEAD_INTERVAL)
            try:
                self.endpoints.render_ahead()
            except Exception:  # a scrape then renders (and reports) it itself
                log.exception("rendering /metrics ahead failed")

    async def _snapshots(self) -> None:
        # The first snapshot once the probes have had a moment to report.
        await anyio.sleep(min(10.0, self.config.reports.snapshot_interval))
        while True:
            await self.write_snapshot()
            await anyio.sleep(self.config.reports.snapshot_interval)

    async def write_snapshot(self) -> None:
        await self.reports.write([snapshot_report(self.config.site, self.store.views(time.time()))])
