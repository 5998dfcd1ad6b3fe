"""The ``load`` probe kind: the load averages, graded per CPU by default.

The CPU count is what this process may really use: the CPU affinity, further limited by a
cgroup CPU quota (cgroup v2 ``cpu.max``, cgroup v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``),
so a container limited to 1.5 CPUs on a 16-core node is graded on 1.5 CPUs. All paths go
through ``context.host_path`` so tests point them at fixture trees.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from exporter.probe_api import (
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Reason,
    Result,
    Sample,
    Status,
)
from exporter.status import worst
from exporter.thresholds import Limits

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: The windows of ``/proc/loadavg``, in its order: (config field, ``window`` label).
WINDOWS = (("load1", "1m"), ("load5", "5m"), ("load15", "15m"))

#: Where cgroup v2 may be mounted: unified, or under ``unified`` in hybrid mode.
CGROUP_V2_MOUNTS = ("/sys/fs/cgroup", "/sys/fs/cgroup/unified")
CGROUP_ROOT = "/sys/fs/cgroup"

LOAD_AVERAGE = MetricFamily(
    "site_status_load_average",
    "System load average over the window (runnable and uninterruptible tasks).",
    ("window",),
)
LOAD_CPUS = MetricFamily(
    "site_status_load_cpus",
    "CPUs the load is compared with: CPU affinity, limited by a cgroup CPU quota.",
)


def _default_load5_limits() -> Limits:
    return Limits.model_validate({"warning": 2, "critical": 4})


class LoadProbe(ProbeConfig):
    """Load averages against limits, per CPU unless ``per_cpu: false``."""

    kind: Literal["load"]
    load1: Limits | None = None
    load5: Limits | None = Field(default_factory=_default_load5_limits)
    load15: Limits | None = None
    per_cpu: bool = True

    def limits(self, window: str) -> Limits | None:
        """The limits of ``load1``, ``load5`` or ``load15``."""
        value: Limits | None = getattr(self, window)
        return value


@dataclass(frozen=True, slots=True)
class CpuCount:
    cpus: float
    #: ``cgroup v2 quota``, ``cgroup v1 quota`` or ``affinity``.
    source: str


@dataclass(frozen=True, slots=True)
class LoadAverages:
    load1: float
    load5: float
    load15: float

    def value(self, window: str) -> float:
        """The average of ``load1``, ``load5`` or ``load15``."""
        number: float = getattr(self, window)
        return number


def parse_loadavg(text: str) -> LoadAverages:
    """``0.52 0.58 0.59 1/467 12345`` -> the three averages."""
    fields = text.split()
    try:
        return LoadAverages(float(fields[0]), float(fields[1]), float(fields[2]))
    except (IndexError, ValueError):
        raise ValueError(f"unexpected /proc/loadavg content: {text.strip()[:80]!r}") from None


def parse_cpu_max(text: str) -> float | None:
    """CPUs from cgroup v2 ``cpu.max`` (``150000 100000`` -> 1.5); None for ``max``."""
    fields = text.split()
    if not fields or fields[0] == "max":
        return None
    period = float(fields[1]) if len(fields) > 1 else 100000.0
    return cpus_from_quota(float(fields[0]), period)


def cpus_from_quota(quota: float, period: float) -> float | None:
    """CPUs a CFS quota allows per period; None where there is no quota (-1)."""
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_proc_cgroup(text: str) -> tuple[str | None, dict[str, str]]:
    """The v2 path (``0::/path``) and the v1 paths by controller list (``cpu,cpuacct``)."""
    v2_path = None
    v1_paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "cpu" in controllers.split(","):
            v1_paths[controllers] = path
    return v2_path, v1_paths


def cgroup_and_ancestors(mount: str, path: str) -> Iterator[str]:
    """``mount/a/b``, ``mount/a``, ``mount``: a quota anywhere above also limits us.

    Inside a container the cgroup is often mounted as the root, so the root itself counts.
    """
    current = posixpath.normpath("/" + path.lstrip("/"))
    while True:
        yield posixpath.normpath(mount + current)
        parent = posixpath.dirname(current)
        if parent == current:
            return
        current = parent


def read_text_or_none(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def smallest_quota(
    directories: Iterator[str],
    read_cpus: Callable[[str], float | None],
) -> float | None:
    """The tightest quota over a cgroup and its ancestors; None if none has one."""
    found = [cpus for cpus in map(read_cpus, directories) if cpus is not None]
    return min(found, default=None)


def cgroup_v2_quota_cpus(context: ProbeContext, path: str) -> float | None:
    def read_cpus(directory: str) -> float | None:
        text = read_text_or_none(context.host_path(f"{directory}/cpu.max"))
        return parse_cpu_max(text) if text is not None else None

    quotas = [
        smallest_quota(cgroup_and_ancestors(mount, path), read_cpus) for mount in CGROUP_V2_MOUNTS
    ]
    return min((q for q in quotas if q is not None), default=None)


def cgroup_v1_quota_cpus(context: ProbeContext, controllers: str, path: str) -> float | None:
    def read_cpus(directory: str) -> float | None:
        quota = read_text_or_none(context.host_path(f"{directory}/cpu.cfs_quota_us"))
        period = read_text_or_none(context.host_path(f"{directory}/cpu.cfs_period_us"))
        if quota is None or period is None:
            return None
        try:
            return cpus_from_quota(float(quota), float(period))
        except ValueError:
            return None

    mounts = dict.fromkeys(f"{CGROUP_ROOT}/{name}" for name in (controllers, "cpu,cpuacct", "cpu"))
    quotas = [smallest_quota(cgroup_and_ancestors(mount, path), read_cpus) for mount in mounts]
    return min((q for q in quotas if q is not None), default=None)


def cgroup_quota(context: ProbeContext) -> CpuCount | None:
    """The CPUs a cgroup CPU quota allows this process, located via ``/proc/self/cgroup``."""
    text = read_text_or_none(context.host_path("/proc/self/cgroup"))
    if text is None:
        return None
    v2_path, v1_paths = parse_proc_cgroup(text)
    candidates = []
    if v2_path is not None:
        cpus = cgroup_v2_quota_cpus(context, v2_path)
        if cpus is not None:
            candidates.append(CpuCount(cpus, "cgroup v2 quota"))
    for controllers, path in v1_paths.items():
        cpus = cgroup_v1_quota_cpus(context, controllers, path)
        if cpus is not None:
            candidates.append(CpuCount(cpus, "cgroup v1 quota"))
    return min(candidates, key=lambda count: count.cpus, default=None)


def affinity_cpus() -> int:
    return len(os.sched_getaffinity(0))


def effective_cpus(context: ProbeContext) -> CpuCount:
    """The CPUs this process can use: affinity, or a smaller cgroup quota."""
    affinity = CpuCount(float(affinity_cpus()), "affinity")
    quota = cgroup_quota(context)
    if quota is not None and quota.cpus < affinity.cpus:
        return quota
    return affinity


def read_load_averages(context: ProbeContext) -> LoadAverages:
    # procfs is generated by the kernel: a plain read never hangs.
    return parse_loadavg(Path(context.host_path("/proc/loadavg")).read_text())


def format_number(value: float) -> str:
    """At most two decimals, no trailing zeros: ``4.55``, ``4.5``, ``2``."""
    return f"{round(value, 2):g}"


def cpus_text(cpus: float) -> str:
    return f"{format_number(cpus)} CPU" + ("" if cpus == 1 else "s")


def compared_value(load: float, config: LoadProbe, cpus: CpuCount) -> float:
    return load / cpus.cpus if config.per_cpu else load


def window_line(window: str, load: float, config: LoadProbe, cpus: CpuCount) -> str:
    """``load5 9.1 = 4.55 per CPU on 2 CPUs``, or ``load5 9.1`` when compared absolutely."""
    line = f"{window} {format_number(load)}"
    if config.per_cpu:
        per_cpu = compared_value(load, config, cpus)
        line += f" = {format_number(per_cpu)} per CPU on {cpus_text(cpus.cpus)}"
    return line


def graded_windows(averages: LoadAverages, config: LoadProbe, cpus: CpuCount) -> dict[str, Status]:
    """Each window's status against its limits (OK where it has none)."""
    statuses = {}
    for window, _ in WINDOWS:
        limits = config.limits(window)
        value = compared_value(averages.value(window), config, cpus)
        statuses[window] = limits.grade(value) if limits is not None else Status.OK
    return statuses


def summary_line(
    averages: LoadAverages, statuses: dict[str, Status], config: LoadProbe, cpus: CpuCount
) -> str:
    """The window(s) at the worst status with their limit, or the three averages when OK."""
    status = worst(statuses.values())
    if status is Status.OK:
        loads = ", ".join(format_number(averages.value(window)) for window, _ in WINDOWS)
        return f"load {loads} on {cpus_text(cpus.cpus)}"
    lines = []
    for window, window_status in statuses.items():
        limits = config.limits(window)
        if window_status is status and limits is not None:
            line = window_line(window, averages.value(window), config, cpus)
            lines.append(f"{line} ({limits.describe(status)})")
    return "; ".join(lines)


def load_samples(averages: LoadAverages, cpus: CpuCount) -> tuple[Sample, ...]:
    samples = [
        Sample(LOAD_AVERAGE.name, averages.value(window), (label,)) for window, label in WINDOWS
    ]
    return (*samples, Sample(LOAD_CPUS.name, cpus.cpus))


async def run(config: LoadProbe, context: ProbeContext) -> Result:
    averages = read_load_averages(context)
    cpus = effective_cpus(context)
    statuses = graded_windows(averages, config, cpus)
    details: dict[str, Any] = {
        "load1": averages.load1,
        "load5": averages.load5,
        "load15": averages.load15,
        "cpus": cpus.cpus,
        "cpu_source": cpus.source,
        "per_cpu": config.per_cpu,
        "status": {window: status.name for window, status in statuses.items()},
    }
    return Result(
        status=worst(statuses.values()),
        summary=summary_line(averages, statuses, config, cpus),
        details=details,
        samples=load_samples(averages, cpus),
        reason=Reason.LOAD,  # only read when the status is not OK
    )


KIND = ProbeKind(config=LoadProbe, run=run, metrics=(LOAD_AVERAGE, LOAD_CPUS))
