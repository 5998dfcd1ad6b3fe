"""The driver: start everything, play the day, take the readings, stop everything."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tools.fleet import compress, configs, measure, processes
from tools.fleet.kube_state_metrics import Cluster
from tools.fleet.plan import (
    SHARED_DEPENDENCY,
    Day,
    Durations,
    Plan,
    Site,
    Timing,
    day,
    fleet,
    retire_how,
    roles,
)
from tools.processes import BenchmarkBroken, Child, rss_mib, stop

ALERTS_DIR = configs.REPO / "alerts"
START_SPACING = 0.15  # seconds between two exporter starts: imports are CPU-bound
START_WAVE = 20  # exporters started together, before waiting for them to answer
READY_TIMEOUT = 600.0
STOP_GRACE = 15.0  # the exporters' report flush at SIGTERM takes up to 5 s
SELECTOR = '{job="site-status"}'


@dataclass
class Readings:
    """Everything the driver saw, for ``analyse``."""

    plan: Plan
    started_at: float  # wall clock of the day's start (T0)
    ended_at: float = 0.0
    setup_seconds: float = 0.0
    injected: dict[str, float] = field(default_factory=dict)
    killed_at: float | None = None
    #: Seconds from the retire scene's change in kube-state-metrics to Prometheus' recording
    #: rule holding every retired namespace (None: it never did within the scene).
    retired_seen_after: float | None = None
    retired: list[str] = field(default_factory=list)  # the exporters stopped on purpose
    cpu_start: dict[str, measure.Cpu] = field(default_factory=dict)
    cpu_end: dict[str, measure.Cpu] = field(default_factory=dict)
    memory: dict[str, list[measure.Memory]] = field(default_factory=dict)
    machine_busy: tuple[float, float] = (0.0, 0.0)
    window: tuple[float, float] = (0.0, 0.0)  # wall clock of the CPU window
    samples_appended: tuple[float, float] = (0.0, 0.0)
    cardinality_start: dict[str, int] = field(default_factory=dict)
    cardinality_end: dict[str, int] = field(default_factory=dict)
    tsdb_status: dict[str, Any] = field(default_factory=dict)
    series_per_site: dict[str, int] = field(default_factory=dict)
    probe_runs: dict[str, float] = field(default_factory=dict)
    blackbox_probes: float = 0.0
    #: Prometheus' own rule evaluation at the end, per rule group: iterations missed (an
    #: evaluation that overran its interval skips the next) and the last evaluation's seconds.
    rule_evaluation: dict[str, dict[str, float]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timeline: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    dashboard: list[measure.QueryTiming] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    unexpected_deaths: list[str] = field(default_factory=list)
    restarted_at_start: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pss_breakdown: dict[str, dict[str, float]] = field(default_factory=dict)
    rule_groups: int = 0
    rules_loaded: int = 0
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)
    prometheus_rss_mib: float = 0.0


def calibration_sites() -> list[Site]:
    """Two exporters at production intervals: the cost per site-hour without compression."""
    return [
        Site(900, "cal-web", "besteffort", "drupal", False, False),
        Site(901, "cal-api", "besteffort", "service", False, False),
    ]


def durations_of(rules: dict[str, dict[str, Any]], routing: dict[str, Any], c: float) -> Durations:
    return Durations(
        site_critical_for=compress.alert_for(rules, "SiteStatusSiteCritical", 300 / c),
        exporter_down_for=compress.alert_for(rules, "SiteStatusExporterDown", 300 / c),
        group_wait=compress.route_timing(routing, "group_wait", "30s"),
        group_interval=compress.route_timing(routing, "group_interval", "5m"),
        shared_warning_for=compress.alert_for(rules, "SiteStatusWarningShared", 1800 / c),
        exporter_absent_for=compress.alert_for(rules, "SiteStatusExporterAbsent", 600 / c),
    )


class Fleet:
    """The running programs. ``close`` stops every one of them (reverse order of start)."""

    def __init__(
        self,
        workdir: Path,
        sites: int,
        compression: float,
        *,
        compact: bool = False,
        drush_cpu: float | None = None,
    ) -> None:
        self.workdir = workdir
        self.timing = Timing.compressed(compression)
        if drush_cpu is not None:
            self.timing = replace(self.timing, drush_cpu_seconds=drush_cpu)
        self.production = Timing.compressed(1.0)
        shipped_rules = compress.shipped_rule_files(ALERTS_DIR)
        self.rules = {
            name: compress.without_alerts(
                compress.compressed_rules(document, compression),
                compress.UNCOMPRESSED_WINDOW_ALERTS,
            )
            for name, document in shipped_rules.items()
        }
        self.shipped_routing: dict[str, Any] = yaml.safe_load(
            (ALERTS_DIR / "alertmanager.yml").read_text()
        )
        self.compression = compression
        members = fleet(sites)
        cast = roles(members)
        probe_routing = compress.compressed_routing(
            self.shipped_routing, compression, "http://unused", night=False
        )
        durations = durations_of(self.rules, probe_routing, compression)
        the_day = day(self.timing, durations, cast, compact=compact)
        self.plan = Plan(members, self.timing, cast, the_day, calibration_sites())
        self.children: list[Child] = []
        self.exporters: dict[str, Child] = {}
        self.restarted: list[str] = []
        self.answered: set[str] = set()  # exporters that answered /metrics once
        self.sinks: processes.Sinks | None = None
        self.cluster = Cluster(workdir / "kube-state.json")
        self.retired: set[str] = set()
        self.background: list[threading.Thread] = []  # scene actions that wait on something

    # --- start ------------------------------------------------------------------------------

    def start(self) -> None:
        w = self.workdir
        configs.write_shared_files(w)
        self.drush = configs.drush_wrapper(w / "drush")
        self.sinks = processes.started_sinks(w)
        nginx_port = processes.free_port()
        self.nginx = self.keep(
            processes.started_nginx(w, configs.nginx_config(nginx_port, w / "state"), nginx_port)
        )
        processes.wait_answering([self.nginx], f"/sites/{self.plan.sites[0].name}/ready", 30)
        self.blackbox = self.keep(processes.started_blackbox(w, configs.BLACKBOX_CONFIG))
        self.alertmanager = self.keep(processes.started_alertmanager(w, self.routing(night=False)))
        self.kube_state_metrics = self.keep(self.started_kube_state_metrics())
        processes.wait_answering([self.blackbox, self.alertmanager], "/-/ready", 60)
        processes.wait_answering([self.kube_state_metrics], "/healthz", 60)
        self.nginx_port = nginx_port
        self.start_exporters()
        self.write_targets()
        rule_paths = []
        (w / "rules").mkdir()
        for name, document in self.rules.items():
            path = w / "rules" / name
            path.write_text(yaml.safe_dump(document, sort_keys=False))
            rule_paths.append(path)
        config = configs.prometheus_config(
            self.timing,
            w,
            rule_paths,
            f"127.0.0.1:{self.alertmanager.port}",
            f"127.0.0.1:{self.blackbox.port}",
            f"127.0.0.1:{self.kube_state_metrics.port}",
        )
        (w / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.prometheus = self.keep(
            processes.started_prometheus(
                w, w / "prometheus.yml", compress.duration_text(self.timing.resend_delay)
            )
        )
        processes.wait_answering([self.prometheus], "/-/ready", 120)
        self.api = measure.PrometheusApi(self.prometheus.port)

    def started_kube_state_metrics(self) -> Child:
        """The stand-in, with every site's namespace (and the calibration sites') Active."""
        created = time.time() - 86400
        for site in [*self.plan.sites, *self.plan.calibration]:
            self.cluster.add(site.name, created, configs.site_workloads(site))
        self.cluster.write()
        return processes.started_kube_state_metrics(self.workdir, self.cluster.path)

    def keep(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def routing(self, *, night: bool) -> Path:
        assert self.sinks is not None
        document = compress.compressed_routing(
            self.shipped_routing,
            self.compression,
            f"http://127.0.0.1:{self.sinks.webhook_port}",
            night=night,
        )
        path = self.workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def site_config(self, site: Site, maintenance: list[tuple[float, float]]) -> Path:
        assert self.sinks is not None
        timing = self.production if site in self.plan.calibration else self.timing
        document = configs.site_document(
            site,
            timing=timing,
            workdir=self.workdir,
            nginx_port=self.nginx_port,
            loki_url=f"http://127.0.0.1:{self.sinks.loki_port}",
            drush=self.drush,
            maintenance=maintenance,
        )
        return configs.write_site(document, self.workdir, site.name)

    def start_exporters(self) -> None:
        """In waves, each answering before the next starts: 200 exporters started at once run
        their first probe round (150 drush runs among them) at once, and a machine that busy
        timed out scrapes and probes until the run gave up (docs/fleet.md)."""
        everyone = [*self.plan.sites, *self.plan.calibration]
        for first in range(0, len(everyone), START_WAVE):
            for site in everyone[first : first + START_WAVE]:
                self.start_exporter(site)
                time.sleep(START_SPACING)
            self.wait_exporters_answer(time.monotonic() + READY_TIMEOUT)

    def wait_exporters_answer(self, deadline: float) -> None:
        waiting = {n: c for n, c in self.exporters.items() if n not in self.answered}
        while waiting:
            for name, child in list(waiting.items()):
                if not child.alive():  # once more, on another port; a second death is fatal
                    if name in self.restarted:
                        child.raise_if_dead()
                    self.restarted.append(name)
                    waiting[name] = self.start_exporter(self.plan.site(name))
                elif processes.answers(child.port, "/metrics"):
                    del waiting[name]
                    self.answered.add(name)
            if waiting and time.monotonic() > deadline:
                raise BenchmarkBroken(f"{len(waiting)} exporters not ready: {list(waiting)[:5]}")
            time.sleep(0.5)

    def start_exporter(self, site: Site) -> Child:
        config = self.site_config(site, [])
        log = self.workdir / "sites" / site.name / "exporter.log"
        child = self.keep(processes.started_exporter(site.name, config, log))
        self.exporters[site.name] = child
        return child

    def write_targets(self) -> None:
        """The file_sd targets; a retired site's exporter has none (its endpoints are gone)."""
        sd = self.workdir / "file_sd"
        sd.mkdir(exist_ok=True)
        fleet_targets = []
        probes = []
        for site in self.plan.sites:
            if site.name in self.retired:
                continue
            labels = configs.target_labels(site)
            fleet_targets.append((f"127.0.0.1:{self.exporters[site.name].port}", labels))
            probes.append((configs.healthz_url(self.nginx_port, site), {"namespace": site.name}))
            if site.profile == "service":
                url = f"http://127.0.0.1:{self.nginx_port}/sites/{site.name}/ready"
                probes.append((url, {"namespace": site.name}))
        calibration = [
            (f"127.0.0.1:{self.exporters[s.name].port}", configs.target_labels(s))
            for s in self.plan.calibration
        ]
        configs.write_file_sd(sd / "site-status.json", fleet_targets)
        configs.write_file_sd(sd / "blackbox.json", probes)
        configs.write_file_sd(sd / "calibration.json", calibration)
        configs.write_file_sd(
            sd / "kube-state-metrics.json",
            [(f"127.0.0.1:{self.kube_state_metrics.port}", configs.KUBE_STATE_METRICS_TARGET)],
        )

    # --- acting -----------------------------------------------------------------------------

    def down(self, name: str) -> None:
        (self.workdir / "state" / "down" / name).touch()

    def up(self, name: str) -> None:
        (self.workdir / "state" / "down" / name).unlink(missing_ok=True)

    def fleet_children(self) -> dict[str, Child]:
        return {s.name: self.exporters[s.name] for s in self.plan.sites}

    def close(self) -> None:
        """SIGTERM to every program at once (each exporter flushes its reports to the Loki
        double, which stops last), SIGKILL to what is still running after the grace."""
        alive = [c for c in reversed(self.children) if c.alive()]
        for child in alive:
            with contextlib.suppress(OSError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in alive:
            with contextlib.suppress(Exception):
                stop(child)
        if self.sinks is not None:
            self.sinks.stop()


# --- the script ---------------------------------------------------------------------------------


Action = Callable[[], None]


def schedule(running: Fleet, readings: Readings) -> list[tuple[float, str, Action]]:
    """(offset from T0, label, action) for the whole day, in order."""
    plan, the_day = running.plan, running.plan.day
    events: list[tuple[float, str, Action]] = []

    def inject(scene: str, names: tuple[str, ...]) -> Action:
        def act() -> None:
            readings.injected[scene] = time.time()
            for name in names:
                running.down(name)

        return act

    def repair(names: tuple[str, ...]) -> Action:
        def act() -> None:
            for name in names:
                running.up(name)

        return act

    for scene in the_day.scenes:
        if scene.name == "shared":
            names: tuple[str, ...] = (SHARED_DEPENDENCY,)
        elif scene.name in ("lone", "maintenance", "night"):
            names = scene.sites
        elif scene.name == "release":
            names = tuple(configs.release_marker(site) for site in scene.sites)
        else:
            names = ()
        if scene.name == "night":
            events.append((scene.start - 0.01, "night routing", lambda: night(running)))
        if names:
            events.append((scene.start, f"{scene.name}: fail", inject(scene.name, names)))
            if scene.recover is not None:
                events.append((scene.recover, f"{scene.name}: repair", repair(names)))
        if scene.name == "flap":
            events += flap_events(running, readings, scene.start, the_day)
        if scene.name == "dies":
            events.append((scene.start, "dies: SIGKILL", lambda: kill_one(running, readings)))
        if scene.name == "retire":
            events.append((scene.start, "retire", lambda: retire(running, readings)))
    events.append((the_day.warmup, "window start", lambda: window_start(running, readings)))
    mid = the_day.scene("maintenance").start
    events.append((mid, "memory", lambda: read_memory(running, readings)))
    del plan
    return sorted(events, key=lambda event: event[0])


def flap_events(
    running: Fleet, readings: Readings, start: float, the_day: Day
) -> list[tuple[float, str, Action]]:
    site = running.plan.cast.flap
    events: list[tuple[float, str, Action]] = []
    half = the_day.flap_half_period
    at, failing = start, True

    def first() -> None:
        readings.injected["flap"] = time.time()
        running.down(site)

    events.append((at, "flap: fail", first))
    while at + half < start + the_day.failure:
        at += half
        failing = not failing
        action: Action = (lambda: running.down(site)) if failing else (lambda: running.up(site))
        events.append((at, "flap: toggle", action))
    events.append((start + the_day.failure, "flap: repair", lambda: running.up(site)))
    return events


def night(running: Fleet) -> None:
    running.routing(night=True)
    processes.reload_alertmanager(running.alertmanager)


def kill_one(running: Fleet, readings: Readings) -> None:
    child = running.exporters[running.plan.cast.dies]
    readings.cpu_end[child.name] = measure.cpu(child.process.pid)
    readings.injected["dies"] = time.time()
    readings.killed_at = readings.injected["dies"]
    processes.kill(child)


def retire(running: Fleet, readings: Readings) -> None:
    """As a platform retires sites: the namespace deleted (Terminating first) or every workload
    scaled to zero, as kube-state-metrics sees it; the sites stop answering, their exporters
    stop, and their scrape targets go with their endpoints.

    The exporters stop once Prometheus' rule knows the namespaces retired: in a real cluster the
    change reaches kube-state-metrics as the pods start terminating, and the rule's lag (a scrape
    and an evaluation) is far shorter than any ``for``; in the compressed run the one-second
    floors of scrape and evaluation are not, so the driver waits rather than race them."""
    cast = running.plan.cast
    how = retire_how(cast)
    readings.injected["retire"] = time.time()
    for name in cast.retire:
        if how[name] == "delete":
            running.cluster.terminate(name)
        else:
            running.cluster.scale_to_zero(name)
        running.down(name)
    running.cluster.write()
    # The rest waits on Prometheus: in a thread, so that the scenes played alongside keep time.
    rest = threading.Thread(target=retire_rest, args=(running, readings), daemon=True)
    running.background.append(rest)
    rest.start()


def retire_rest(running: Fleet, readings: Readings) -> None:
    cast, t = running.plan.cast, running.timing
    how = retire_how(cast)
    deadline = time.monotonic() + running.plan.day.failure
    expected = set(cast.retire)
    while time.monotonic() < deadline:
        held = running.api.query("site_status_namespace:retired")
        if expected <= {row["metric"].get("namespace") for row in held}:
            readings.retired_seen_after = time.time() - readings.injected["retire"]
            break
        time.sleep(t.evaluation_interval / 2)
    readings.retired += cast.retire
    children = [running.exporters[name] for name in cast.retire]
    for child in children:  # all at once: each flushes its reports for up to 5 s
        with contextlib.suppress(OSError):
            readings.cpu_end[child.name] = measure.cpu(child.process.pid)
            child.process.send_signal(signal.SIGTERM)
    for child in children:
        stop(child)
    time.sleep(2 * t.scrape_interval)  # the last scrapes fail (up 0) before the targets go
    running.retired |= expected
    running.write_targets()
    for name in cast.retire:
        if how[name] == "delete":
            running.cluster.delete(name)
    running.cluster.write()


def read_memory(running: Fleet, readings: Readings) -> None:
    for name, child in running.exporters.items():
        if child.alive():
            with contextlib.suppress(OSError, KeyError):
                readings.memory.setdefault(name, []).append(measure.memory(child.process.pid))


def other_children(running: Fleet) -> dict[str, Child]:
    named = {
        "prometheus": running.prometheus,
        "alertmanager": running.alertmanager,
        "blackbox_exporter": running.blackbox,
        "nginx": running.nginx,
    }
    return named


def window_start(running: Fleet, readings: Readings) -> None:
    readings.window = (time.time(), 0.0)
    readings.machine_busy = (measure.machine_busy_seconds(), 0.0)
    readings.samples_appended = (running.api.samples_appended(), 0.0)
    for name, child in {**running.exporters, **other_children(running)}.items():
        readings.cpu_start[name] = measure.cpu(child.process.pid)
    assert running.sinks is not None
    readings.cpu_start["sinks"] = measure.cpu(running.sinks.process.pid)
    read_memory(running, readings)
    readings.cardinality_start = measure.label_cardinalities(running.api, SELECTOR)


def read_pss_breakdown(running: Fleet, readings: Readings) -> None:
    """Where one Drupal and one service exporter's PSS goes."""
    living = [s for s in running.plan.sites if running.exporters[s.name].alive()]
    drupal = next(s for s in living if s.profile == "drupal")
    service = next((s for s in living if s.profile == "service"), drupal)
    for site in (drupal, service):
        child = running.exporters[site.name]
        if child.alive():
            readings.pss_breakdown[site.name] = measure.pss_by_mapping(child.process.pid)


def window_end(running: Fleet, readings: Readings) -> None:
    now = time.time()
    readings.window = (readings.window[0], now)
    readings.machine_busy = (readings.machine_busy[0], measure.machine_busy_seconds())
    readings.samples_appended = (readings.samples_appended[0], running.api.samples_appended())
    for name, child in {**running.exporters, **other_children(running)}.items():
        if child.alive():
            with contextlib.suppress(OSError):
                readings.cpu_end[name] = measure.cpu(child.process.pid)
    assert running.sinks is not None
    readings.cpu_end["sinks"] = measure.cpu(running.sinks.process.pid)
    readings.load_average = _loadavg()
    readings.prometheus_rss_mib = rss_mib(running.prometheus.process.pid)


def _loadavg() -> tuple[float, float, float]:
    import os

    return os.getloadavg()


def wait_fleet_scraped(running: Fleet, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while running.api.scalar('count(up{job="site-status"} == 1)') < count:
        if time.monotonic() > deadline:
            raise BenchmarkBroken(f"Prometheus does not scrape all {count} exporters")
        time.sleep(1)


def play(running: Fleet, log: Callable[[str], None]) -> Readings:
    plan = running.plan
    wait_fleet_scraped(running, len(plan.sites), READY_TIMEOUT)
    rules = running.api.get("/api/v1/rules")["data"]["groups"]
    t0 = time.time()
    readings = Readings(plan, t0)
    readings.restarted_at_start = list(running.restarted)
    readings.rule_groups = len(rules)
    readings.rules_loaded = sum(len(g["rules"]) for g in rules)
    declare_maintenance(running, t0)
    events = schedule(running, readings)
    alive_check = 0.0
    for offset, label, action in events:
        while (wait := t0 + offset - time.time()) > 0:
            time.sleep(min(wait, 1.0))
            if time.monotonic() - alive_check > 5:
                alive_check = time.monotonic()
                note_deaths(running, readings)
        log(f"{time.time() - t0:7.1f} s  {label}")
        guarded(label, action, readings, log)
    while time.time() < t0 + plan.day.length:
        time.sleep(0.5)
    for thread in running.background:
        thread.join(timeout=60)
    note_deaths(running, readings)
    readings.ended_at = time.time()
    log(f"{readings.ended_at - t0:7.1f} s  the day is over: readings")
    window_end(running, readings)
    read_memory(running, readings)
    final_readings(running, readings, log)
    return readings


def declare_maintenance(running: Fleet, t0: float) -> None:
    """The maintenance scene's windows, declared at the start of the day (config + SIGHUP)."""
    t, scene = running.timing, running.plan.day.scene("maintenance")
    assert scene.recover is not None
    before = 2 * t.scrape_interval + t.evaluation_interval + 2
    after = t.probe_interval + 2 * t.scrape_interval + t.evaluation_interval + 2
    window = (t0 + scene.start - before, t0 + scene.recover + after)
    for name in scene.sites:
        running.site_config(running.plan.site(name), [window])
        running.exporters[name].process.send_signal(signal.SIGHUP)


def note_deaths(running: Fleet, readings: Readings) -> None:
    for name, child in running.exporters.items():
        if name == running.plan.cast.dies and readings.killed_at is not None:
            continue
        if name in readings.retired:
            continue
        if not child.alive() and name not in readings.unexpected_deaths:
            readings.unexpected_deaths.append(name)


def final_readings(running: Fleet, readings: Readings, log: Callable[[str], None]) -> None:
    """Each reading on its own: one that fails is logged and recorded, the others are taken."""
    steps: list[tuple[str, Action]] = [
        ("notifications and reports", lambda: read_sinks(running, readings)),
        ("PSS by mapping", lambda: read_pss_breakdown(running, readings)),
        ("exporters' /status", lambda: read_statuses(running, readings)),
        ("Prometheus", lambda: read_prometheus(running, readings)),
        ("status timeline", lambda: read_timeline(running, readings)),
        ("dashboard queries", lambda: read_dashboards(running, readings)),
    ]
    for label, step in steps:
        log(label)
        guarded(label, step, readings, log)


def guarded(label: str, step: Action, readings: Readings, log: Callable[[str], None]) -> None:
    try:
        step()
    except Exception as error:  # the run's other readings are still worth having
        readings.errors.append(f"{label}: {error!r}")
        log(f"{label} failed: {error!r}")


def read_sinks(running: Fleet, readings: Readings) -> None:
    assert running.sinks is not None
    notifications = running.sinks.get("/fleet/notifications")
    reports = running.sinks.get("/fleet/reports")
    assert isinstance(notifications, list) and isinstance(reports, list)
    readings.notifications = notifications
    readings.reports = reports


def read_statuses(running: Fleet, readings: Readings) -> None:
    for name, child in running.fleet_children().items():
        if child.alive():
            with contextlib.suppress(OSError, ValueError):
                readings.statuses[name] = status_of(child)


def read_prometheus(running: Fleet, readings: Readings) -> None:
    api = running.api
    readings.cardinality_end = measure.label_cardinalities(api, SELECTOR)
    readings.tsdb_status = api.get("/api/v1/status/tsdb")["data"]
    for row in api.query('count by (namespace) ({job="site-status"})'):
        readings.series_per_site[row["metric"]["namespace"]] = int(float(row["value"][1]))
    span = max(1, round(readings.window[1] - readings.window[0]))
    for row in api.query(
        f'sum by (kind) (increase(site_status_probe_runs_total{{job="site-status"}}[{span}s]))'
    ):
        readings.probe_runs[row["metric"]["kind"]] = float(row["value"][1])
    readings.blackbox_probes = api.scalar(f'sum(count_over_time(up{{job="blackbox"}}[{span}s]))')
    readings.rule_evaluation = measure.rule_group_health(running.prometheus.port)


def read_timeline(running: Fleet, readings: Readings) -> None:
    step = running.timing.scrape_interval
    start, end = readings.started_at, readings.ended_at
    queries = {
        "OK": 'count(site_status_site_status{job="site-status"} == 0)',
        "WARNING": 'count(site_status_site_status{job="site-status"} == 1)',
        "CRITICAL": 'count(site_status_site_status{job="site-status"} == 2)',
        "UNKNOWN": 'count(site_status_site_status{job="site-status"} == 3)',
        "exporter down": 'count(up{job="site-status"} == 0)',
        "in maintenance": 'count(site_status_maintenance{job="site-status"} == 1)',
        "alerts firing": 'count(ALERTS{alertstate="firing"})',
        # How long the fleet alert was pending: with exporter dips it must fire after its for.
        "fleet alert pending": 'count(ALERTS{alertname="SiteStatusFleetCritical", '
        'alertstate="pending"})',
    }
    for label, expr in queries.items():
        result = running.api.query_range(f"({expr}) or vector(0)", start, end, step)
        readings.timeline[label] = [(float(t), float(v)) for t, v in result[0]["values"]]


def read_dashboards(running: Fleet, readings: Readings) -> None:
    plan = running.plan
    shared_drupal = next(
        (s.name for s in plan.sites if s.shared and s.profile == "drupal"), plan.sites[0].name
    )
    service = next((s.name for s in plan.sites if s.profile == "service"), plan.sites[0].name)
    choices = list(dict.fromkeys([plan.cast.lone, shared_drupal, service]))
    readings.dashboard = measure.dashboard_timings(
        running.api,
        readings.started_at,
        readings.ended_at,
        running.timing.scrape_interval,
        choices,
        repetitions=5,
    )


def status_of(child: Child) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{child.port}/status", timeout=10) as answer:
        document: dict[str, Any] = json.loads(answer.read())
    probes: list[dict[str, Any]] = document["probes"]
    return probes


@contextlib.contextmanager
def running_fleet(
    workdir: Path,
    sites: int,
    compression: float,
    *,
    compact: bool = False,
    drush_cpu: float | None = None,
) -> Iterator[Fleet]:
    running = Fleet(workdir, sites, compression, compact=compact, drush_cpu=drush_cpu)
    try:
        running.start()
        yield running
    finally:
        running.close()
