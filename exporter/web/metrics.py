"""``/metrics``: a custom Collector over the result store, and a fast text renderer.

Both read the same rows. The renderer exists because a scrape must stay cheap with hundreds of
probes: each probe's lines are rendered once per recorded result (``ProbeLines``, keyed by the
store's immutable record), and a scrape only joins them. Only the status lines, which depend on
the clock (staleness) and on other probes (dependencies), are rendered at every scrape.
"""

from __future__ import annotations

import math
import platform
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client import generate_latest as generate_text
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.probe_api import MetricFamily
from exporter.reports.series import stuck_report_families
from exporter.reports.stats import ReportStats
from exporter.run_stats import ExporterHealth, RunStats
from exporter.schedule.announce import reason_of
from exporter.status import Status
from exporter.store import ProbeRecord, ProbeView, ResultStore, site_status

PROBE_LABELS = ("probe", "kind")


def _family(name: str, help: str, *labels: str, type: str = "gauge") -> MetricFamily:
    return MetricFamily(name, help, labels, type)  # type: ignore[arg-type]


PROBE_STATUS = _family(
    "site_status_probe_status",
    "Nagios code of the probe's current status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), "
    "after flap damping, staleness and dependencies.",
    *PROBE_LABELS,
)
PROBE_REASON = _family(
    "site_status_probe_reason",
    "Why the probe is not OK: a reason of a closed vocabulary (docs/reasons.md) and the bounded "
    "name of the failing part, or empty (a health component, a requirement id, a mount point); "
    "the value is the probe's status code. No series while the probe is OK.",
    *PROBE_LABELS,
    "reason",
    "part",
)
PROBE_DURATION = _family(
    "site_status_probe_duration_seconds", "How long the probe's latest run took.", *PROBE_LABELS
)
PROBE_LAST_RUN = _family(
    "site_status_probe_last_run_timestamp_seconds",
    "Unix time at which the probe's latest run finished.",
    *PROBE_LABELS,
)
SITE_STATUS = _family(
    "site_status_site_status",
    "Nagios code of the site rollup: the worst probe status, CRITICAL > UNKNOWN > WARNING > OK; "
    "probes with critical: false count at most as WARNING.",
)
SITE_INFO = _family(
    "site_status_site_info",
    "The site this exporter watches; always 1.",
    "site",
    "environment",
    "tier",
    "profile",
)
NODE_INFO = _family(
    "site_status_node_info",
    "The node the exporter runs on (exporter.node: in Kubernetes the pod's spec.nodeName through "
    "the Downward API; else the host name); always 1. Node-wide alerts (load) group by it.",
    "node",
)
MAINTENANCE = _family(
    "site_status_maintenance", "1 while the site is in a declared maintenance window, else 0."
)
SERVICE_HOURS = _family(
    "site_status_service_hours",
    "1 inside the site's service hours (site.service_hours; unset: its tier's, flexprod "
    "mon-fri 08:00-16:00 Europe/Oslo, else every hour), else 0. The service-level rules count "
    "only these hours.",
)
MAINTENANCE_INFO = _family(
    "site_status_maintenance_info",
    "1 while the site is in a declared maintenance window, with the window's reason (cut to 100 "
    "characters); absent outside one. One series at most.",
    "reason",
)
MAINTENANCE_NEXT_START = _family(
    "site_status_maintenance_next_start_timestamp_seconds",
    "Unix time at which the next declared maintenance window starts (looked for within 400 "
    "days); absent when there is none.",
)
MAINTENANCE_NEXT_END = _family(
    "site_status_maintenance_next_end_timestamp_seconds",
    "Unix time at which the next declared maintenance window ends; absent when there is none.",
)
FROZEN = _family(
    "site_status_frozen",
    "1 while the site is in a deploy freeze (after a failed rollout; site-status gate unfreeze "
    "lifts it), else 0.",
)
FROZEN_SINCE = _family(
    "site_status_frozen_since_timestamp_seconds",
    "Unix time since which the site is frozen; absent when it is not.",
)
FREEZE_INFO = _family(
    "site_status_freeze_info",
    "1 while the site is frozen, with the freeze's reason (cut to 100 characters) for the gate "
    "through Prometheus; absent when it is not. One series at most.",
    "reason",
)
RUNS = _family(
    "site_status_probe_runs_total",
    "Probe runs finished, by kind and raw status.",
    "kind",
    "status",
    type="counter",
)
ERRORS = _family(
    "site_status_probe_errors_total",
    "Probe runs that raised or timed out (reported as UNKNOWN), by kind and reason.",
    "kind",
    "reason",
    type="counter",
)
RUN_SECONDS = _family(
    "site_status_probe_run_seconds_total",
    "Seconds spent in probe runs, by kind.",
    "kind",
    type="counter",
)
BUILD_INFO = _family(
    "site_status_build_info",
    "Version of site-status and of Python; always 1.",
    "version",
    "python_version",
)
RELOAD_OK = _family(
    "site_status_config_last_reload_successful",
    "1 if the last config load or reload succeeded, 0 if it failed (the last good config "
    "stays in force).",
)
RELOAD_AT = _family(
    "site_status_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful config load.",
)
CONFIGURED = _family("site_status_probes_configured", "Number of probes in the config.")
IN_FLIGHT = _family("site_status_probes_in_flight", "Probe runs in progress now.")
STALE = _family(
    "site_status_probes_stale",
    "Probes whose latest result is older than 3 intervals (reported as UNKNOWN).",
)
MOUNT_STUCK = _family(
    "site_status_mount_stuck",
    "1 while a call on this mount point has not returned (no new call is started on it), "
    "0 once it has.",
    "mountpoint",
)
ABANDONED = _family(
    "site_status_abandoned_threads",
    "Worker threads whose blocking call passed its deadline and has not returned yet.",
)

#: Families of each probe's own state, rendered when its result is recorded.
PER_PROBE = (PROBE_DURATION, PROBE_LAST_RUN)
#: Core families in exposition order; probe kinds' families follow, by name.
CORE_FAMILIES = (
    PROBE_STATUS,
    PROBE_REASON,
    *PER_PROBE,
    SITE_STATUS,
    SITE_INFO,
    NODE_INFO,
    MAINTENANCE,
    SERVICE_HOURS,
    MAINTENANCE_INFO,
    MAINTENANCE_NEXT_START,
    MAINTENANCE_NEXT_END,
    FROZEN,
    FROZEN_SINCE,
    FREEZE_INFO,
    RUNS,
    ERRORS,
    RUN_SECONDS,
    BUILD_INFO,
    RELOAD_OK,
    RELOAD_AT,
    CONFIGURED,
    IN_FLIGHT,
    STALE,
    MOUNT_STUCK,
    ABANDONED,
)
_CORE_NAMES = frozenset(family.name for family in CORE_FAMILIES)


def label_names(family: MetricFamily) -> tuple[str, ...]:
    """A kind's families get the ``probe`` label in front of their own."""
    return family.labels if family.name in _CORE_NAMES else ("probe", *family.labels)


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def sample_line(name: str, names: Sequence[str], values: Sequence[str], value: float) -> str:
    if not names:
        return f"{name} {format_value(value)}\n"
    labels = ",".join(f'{n}="{escape_label_value(v)}"' for n, v in zip(names, values, strict=True))
    return f"{name}{{{labels}}} {format_value(value)}\n"


Row = tuple[MetricFamily, tuple[str, ...], float]


def probe_rows(state: ProbeRecord) -> Iterator[Row]:
    """The rows of one probe's recorded state, status excepted (see ``status_rows``)."""
    if state.raw is None:
        return
    ids = (state.spec.name, state.spec.kind)
    yield PROBE_DURATION, ids, state.duration
    yield PROBE_LAST_RUN, ids, state.finished_at


def kind_rows(state: ProbeRecord, families: Mapping[str, MetricFamily]) -> Iterator[Row]:
    if state.raw is None:
        return
    for sample in state.raw.samples:
        yield families[sample.family], (state.spec.name, *sample.labels), sample.value


def render_probe_lines(state: ProbeRecord, families: Mapping[str, MetricFamily]) -> dict[str, str]:
    """Exposition text of a probe's recorded values, by family name.

    For ``site_status_probe_status`` it holds the line without its value: the status depends on
    the clock and on other probes, so the value is added at scrape time.
    """
    lines: dict[str, list[str]] = {PROBE_STATUS.name: [status_prefix(state)]}
    for family, values, value in (*probe_rows(state), *kind_rows(state, families)):
        line = sample_line(family.name, label_names(family), values, value)
        lines.setdefault(family.name, []).append(line)
    return {name: "".join(text) for name, text in lines.items()}


def status_prefix(state: ProbeRecord) -> str:
    """``site_status_probe_status{probe="a",kind="file"} `` (the value follows)."""
    line = sample_line(PROBE_STATUS.name, PROBE_LABELS, (state.spec.name, state.spec.kind), 0.0)
    return line[: -len("0.0\n")]


_STATUS_VALUES = {status: format_value(float(status)) + "\n" for status in Status}


def _header(family: MetricFamily, openmetrics: bool) -> str:
    name = family.name
    if openmetrics and family.type == "counter":
        name = name.removesuffix("_total")
    help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {family.type}\n"


def reason_rows(views: Sequence[ProbeView]) -> Iterator[Row]:
    """One row per probe that is not OK: at most one series per probe at any time."""
    for view in views:
        if view.reason is not None:
            ids = (view.name, view.kind, view.reason.value, view.part)
            yield PROBE_REASON, ids, float(view.status)


class ProbeLines:
    """Each probe's rendered lines, kept until the store holds a new record for it."""

    def __init__(self, families: Callable[[], Mapping[str, MetricFamily]]) -> None:
        self._families = families
        self._lock = threading.Lock()
        self._by_probe: dict[str, tuple[ProbeRecord, dict[str, str]]] = {}

    def of(self, records: Sequence[ProbeRecord]) -> list[dict[str, str]]:
        """The lines of each record, by family, rendering only records not seen before."""
        with self._lock:
            cached, fresh = self._by_probe, {}
            for record in records:
                name = record.spec.name
                known = cached.get(name)
                if known is None or known[0] is not record:
                    known = (record, render_probe_lines(record, self._families()))
                fresh[name] = known
            self._by_probe = fresh
            return [lines for _, lines in fresh.values()]


@dataclass
class Exposition:
    """Everything ``/metrics`` shows, read fresh at each scrape."""

    store: ResultStore
    families: Callable[[], Mapping[str, MetricFamily]]
    site: Callable[[], Site]
    stats: RunStats
    health: ExporterHealth
    blocking: BlockingRunner
    #: The node's name (``exporter.node``), read at each scrape like the site.
    node: Callable[[], str] = lambda: ""
    probe_lines: ProbeLines = field(init=False)

    def __post_init__(self) -> None:
        self.probe_lines = ProbeLines(self.families)

    def global_rows(self, views: Sequence[ProbeView]) -> Iterator[Row]:
        yield from reason_rows(views)
        site = self.site()
        yield SITE_STATUS, (), float(site_status(views))
        yield SITE_INFO, (site.name, site.environment, site.tier, site.profile), 1.0
        yield NODE_INFO, (self.node(),), 1.0
        announced = site.announced()
        yield MAINTENANCE, (), float(announced.current is not None)
        yield SERVICE_HOURS, (), float(site.in_service_hours())
        if announced.current is not None:
            yield MAINTENANCE_INFO, (reason_of(announced.current),), 1.0
        if announced.next is not None:
            yield MAINTENANCE_NEXT_START, (), announced.next.start.timestamp()
            yield MAINTENANCE_NEXT_END, (), announced.next.end.timestamp()
        freeze = site.freeze
        yield FROZEN, (), float(freeze is not None)
        if freeze is not None:
            yield FROZEN_SINCE, (), freeze.since.timestamp()
            yield FREEZE_INFO, (freeze.reason[:100],), 1.0
        runs, errors, seconds = self.stats.snapshot()
        for (kind, status), count in sorted(runs.items()):
            yield RUNS, (kind, status), float(count)
        for (kind, reason), count in sorted(errors.items()):
            yield ERRORS, (kind, reason), float(count)
        for kind, total in sorted(seconds.items()):
            yield RUN_SECONDS, (kind,), total
        yield BUILD_INFO, (__version__, platform.python_version()), 1.0
        yield RELOAD_OK, (), float(self.health.reload_successful)
        yield RELOAD_AT, (), self.health.reload_success_at
        yield CONFIGURED, (), float(len(views))
        yield IN_FLIGHT, (), float(self.stats.in_flight)
        yield STALE, (), float(sum(view.stale for view in views))
        for mountpoint, stuck in sorted(self.blocking.stuck_history().items()):
            yield MOUNT_STUCK, (mountpoint,), float(stuck)
        yield ABANDONED, (), float(self.blocking.abandoned_threads())

    def ordered_families(self) -> list[MetricFamily]:
        kinds = sorted(self.families().values(), key=lambda family: family.name)
        return [*CORE_FAMILIES, *kinds]

    def render(self, openmetrics: bool = False) -> bytes:
        """The exposition of every site_status series (process metrics: ``SelfMetrics``)."""
        views = self.store.views()
        by_probe = self.probe_lines.of([view.state for view in views])
        status_lines = [
            lines[PROBE_STATUS.name] + _STATUS_VALUES[view.status]
            for view, lines in zip(views, by_probe, strict=True)
        ]
        global_lines: dict[str, list[str]] = {}
        for family, values, value in self.global_rows(views):
            line = sample_line(family.name, family.labels, values, value)
            global_lines.setdefault(family.name, []).append(line)
        out: list[str] = []
        for family in self.ordered_families():
            if family is PROBE_STATUS:
                lines = "".join(status_lines)
            elif family.name in global_lines:
                lines = "".join(global_lines[family.name])
            else:
                lines = "".join(probe.get(family.name, "") for probe in by_probe)
            if lines:
                out.append(_header(family, openmetrics))
                out.append(lines)
        return "".join(out).encode()


class ReportCollector(Collector):
    """The report sinks' series: written and failed for every sink; queue, pushes, retries,
    drops, spool size, last success and push durations once a Loki sink has run."""

    def __init__(self, stats: ReportStats) -> None:
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self.stats
        written = CounterMetricFamily(
            "site_status_reports_written_total",
            "Status reports a sink took, by report type (file: appended; Loki: stored in the "
            "spool, to be pushed).",
            labels=["type"],
        )
        for report_type in sorted({"transition", "snapshot", *stats.written}):
            written.add_metric([report_type], float(stats.written[report_type]))
        yield written
        yield CounterMetricFamily(
            "site_status_report_errors_total",
            "Status reports a sink could not take (file or spool write failed).",
            value=float(stats.errors),
        )
        loki = stats.loki
        if loki is None:
            return
        yield GaugeMetricFamily(
            "site_status_reports_queued",
            "Reports waiting for Loki (in memory and in the spool).",
            value=float(loki.queued),
        )
        yield CounterMetricFamily(
            "site_status_reports_pushed_total",
            "Reports Loki accepted.",
            value=float(loki.pushed),
        )
        yield CounterMetricFamily(
            "site_status_reports_retried_total",
            "Reports sent again after a failed push (429, 5xx, network errors).",
            value=float(loki.retried),
        )
        dropped = CounterMetricFamily(
            "site_status_reports_dropped_total",
            "Reports given up on, by reason: bad_request (Loki 400/422), too_large (413), "
            "too_old (older than Loki accepts), spool_full (the spool's bound: oldest snapshots "
            "first), spool_unavailable (no spool and the memory queue full).",
            labels=["reason"],
        )
        for reason, count in sorted(loki.dropped.items()):
            dropped.add_metric([reason], float(count))
        yield dropped
        yield GaugeMetricFamily(
            "site_status_report_spool_bytes",
            "Bytes of the report spool's files on disk.",
            value=float(loki.spool_bytes),
        )
        yield GaugeMetricFamily(
            "site_status_reports_last_success_timestamp_seconds",
            "Unix time of the last push Loki accepted; 0 before the first.",
            value=loki.last_success,
        )
        buckets, total, _ = loki.push_durations.cumulative()
        yield HistogramMetricFamily(
            "site_status_report_push_duration_seconds",
            "Duration of push requests to Loki, answered or failed.",
            buckets=buckets,
            sum_value=total,
        )
        yield from stuck_report_families(loki)


class SelfMetrics:
    """The process's own series (memory, CPU, file descriptors) and the report sinks' series,
    via prometheus_client."""

    def __init__(self, report_stats: ReportStats | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.report_stats = report_stats
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if report_stats is not None:
            self.registry.register(ReportCollector(report_stats))

    def render(self, openmetrics: bool = False) -> bytes:
        if openmetrics:
            body: bytes = generate_openmetrics(self.registry)  # type: ignore[no-untyped-call]
            return body.removesuffix(b"# EOF\n")
        text: bytes = generate_text(self.registry)
        return text
