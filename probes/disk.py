"""The ``disk`` probe kind: bytes and inodes used per filesystem, graded like ``df``.

One probe covers the filesystem holding one ``path``, or every mount selected by glob patterns
on the mount point (``include``/``exclude``) and on the fstype (``fstypes``/``exclude_fstypes``).
With neither a path, an ``include`` nor ``fstypes`` it covers every real local filesystem, one
mount per filesystem (bind mounts such as ``/etc/hosts`` in a pod are the same filesystem).

``statvfs`` runs through the context's blocking runner with the mount point as the resource,
so a hung mount is abandoned at the deadline and never gets a second thread. A mount that
cannot be read is UNKNOWN here with the reason; the ``mount`` kind grades unreachable mounts.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import Field, model_validator

from exporter.blocking import BlockingTimeout, ResourceStuck
from exporter.failure_text import hung, missing
from exporter.mounts import (
    KUBELET_MOUNTPOINTS,
    RUNTIME_MOUNTPOINTS,
    Mount,
    MountTable,
    distinct_filesystems,
)
from exporter.probe_api import (
    AbsolutePath,
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
from exporter.thresholds import PercentLimits
from probes.deadline import blocking_within

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Mounts named one by one in a summary before the rest are only counted.
MAX_NAMED_IN_SUMMARY = 3
#: The answer for a configured path that does not exist.
NO_SUCH_PATH = "no such path"

SIZE_BYTES = MetricFamily(
    "site_status_disk_size_bytes", "Size of the filesystem in bytes.", ("mountpoint",)
)
AVAILABLE_BYTES = MetricFamily(
    "site_status_disk_available_bytes",
    "Bytes available to unprivileged users on the filesystem.",
    ("mountpoint",),
)

USED_BYTES = MetricFamily(
    "site_status_disk_used_bytes",
    "Bytes used on the filesystem (size minus free, like df).",
    ("mountpoint",),
)
INODES = MetricFamily(
    "site_status_disk_inodes",
    "Inodes of the filesystem (0 if it has no fixed number).",
    ("mountpoint",),
)
INODES_FREE = MetricFamily(
    "site_status_disk_inodes_free", "Free inodes on the filesystem.", ("mountpoint",)
)


def _default_percent_limits() -> PercentLimits:
    return PercentLimits.model_validate({"warning": 80, "critical": 90})


class DiskProbe(ProbeConfig):
    """Space and inodes used on one filesystem, or on every selected mount."""

    kind: Literal["disk"]
    #: The filesystem holding this path (found by name in the mount table).
    path: AbsolutePath | None = None
    #: Glob patterns on the mount point; empty means every local filesystem.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    #: Glob patterns on the fstype; when given, network and FUSE mounts may match too.
    fstypes: tuple[str, ...] = ()
    exclude_fstypes: tuple[str, ...] = ()
    used_percent: PercentLimits = Field(default_factory=_default_percent_limits)
    inodes_used_percent: PercentLimits = Field(default_factory=_default_percent_limits)
    #: A ``path`` that does not exist is CRITICAL; true: grade the filesystem it would be on.
    parent_if_missing: bool = False
    #: With no path, include or fstypes: leave out the kernel's trees and the container
    #: runtimes' and kubelet's mounts (``RUNTIME_MOUNTPOINTS``, ``KUBELET_MOUNTPOINTS``).
    default_excludes: bool = True

    @model_validator(mode="after")
    def _path_or_selection(self) -> DiskProbe:
        if self.path is not None and self.has_selection():
            raise ValueError("give either path or include/exclude/fstypes/exclude_fstypes")
        if self.parent_if_missing and self.path is None:
            raise ValueError("parent_if_missing applies only with path")
        return self

    def has_selection(self) -> bool:
        return bool(self.include or self.exclude or self.fstypes or self.exclude_fstypes)


@dataclass(frozen=True, slots=True)
class Usage:
    """One filesystem's figures from ``statvfs``, in bytes and inodes."""

    size_bytes: int
    available_bytes: int
    used_bytes: int
    used_percent: float
    inodes: int
    inodes_free: int
    #: None where the filesystem has no fixed inode count (btrfs reports 0).
    inodes_used_percent: float | None


@dataclass(frozen=True, slots=True)
class FilesystemReport:
    """One mount's grade: its usage, or the reason it could not be read."""

    mount: Mount
    status: Status
    #: ``/data 93.1% used (max 90%)``, ``/mnt/x: stale file handle``; empty when OK.
    problem: str
    usage: Usage | None = None
    error: str | None = None
    #: The bounded reason of a report that is not OK (exporter/reasons.py).
    why: Reason = Reason.ERROR


def usage_from_statvfs(st: os.statvfs_result) -> Usage:
    """Figures as ``df`` computes them: used percent excludes the root-reserved blocks."""
    block = st.f_frsize or st.f_bsize
    used = (st.f_blocks - st.f_bfree) * block
    available = st.f_bavail * block
    usable = used + available
    inodes_used_percent = None
    if st.f_files > 0:
        inodes_used_percent = (st.f_files - st.f_ffree) / st.f_files * 100
    return Usage(
        size_bytes=st.f_blocks * block,
        available_bytes=available,
        used_bytes=used,
        used_percent=used / usable * 100 if usable > 0 else 0.0,
        inodes=st.f_files,
        inodes_free=st.f_ffree,
        inodes_used_percent=inodes_used_percent,
    )


def selected_filesystems(config: DiskProbe, table: MountTable) -> list[Mount]:
    """The mounts this probe covers, one per filesystem, sorted by mount point."""
    if config.path is not None:
        mount = table.containing(config.path)
        return [mount] if mount is not None else []
    automatic = not config.include and not config.fstypes
    exclude = config.exclude
    if automatic and config.default_excludes:
        exclude = (*exclude, *RUNTIME_MOUNTPOINTS, *KUBELET_MOUNTPOINTS)
    mounts = table.select(config.include, exclude, config.fstypes, config.exclude_fstypes)
    if automatic:
        mounts = [mount for mount in mounts if mount.is_local_storage]
    return distinct_filesystems(mounts)


def unreadable_reason(error: Exception, timeout: float) -> str:
    """Why ``statvfs`` gave no answer, in words: ``stale file handle``."""
    if isinstance(error, ResourceStuck | BlockingTimeout):
        return hung(error, timeout).text
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[:1].lower() + error.strerror[1:]
    return str(error) or type(error).__name__


class NoSuchPath(Exception):
    """The configured ``path`` does not exist (and no fallback to its parent was asked for)."""


def statvfs_of_path(path: str, mountpoint: str, parent_if_missing: bool) -> os.statvfs_result:
    """``statvfs`` of ``path`` itself, so a missing path is found, not graded as its parent."""
    try:
        return os.statvfs(path)
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        if not parent_if_missing:
            raise NoSuchPath(path) from error
    return os.statvfs(mountpoint)


async def statvfs_or_reason(
    mountpoint: str, context: ProbeContext, config: DiskProbe | None = None
) -> os.statvfs_result | str:
    """``statvfs`` of the mount point (or of the configured path), or why it failed."""
    try:
        where = context.host_path(mountpoint)  # the node's, when its root is mounted in
        if config is not None and config.path is not None:
            return await blocking_within(
                context,
                statvfs_of_path,
                context.host_path(config.path),
                where,
                config.parent_if_missing,
                resource=mountpoint,
            )
        return await blocking_within(context, os.statvfs, where, resource=mountpoint)
    except NoSuchPath:
        return NO_SUCH_PATH
    except (ResourceStuck, BlockingTimeout, OSError) as error:
        return unreadable_reason(error, context.timeout)


async def statvfs_all(
    mounts: Sequence[Mount], context: ProbeContext, config: DiskProbe
) -> list[os.statvfs_result | str]:
    """``statvfs`` of every mount at once, so one hung mount does not starve the others."""
    answers: list[os.statvfs_result | str] = ["not checked"] * len(mounts)

    async def read_one(index: int, mountpoint: str) -> None:
        answers[index] = await statvfs_or_reason(mountpoint, context, config)

    async with anyio.create_task_group() as group:
        for index, mount in enumerate(mounts):
            group.start_soon(read_one, index, mount.mountpoint)
    return answers


def graded_report(mount: Mount, usage: Usage, config: DiskProbe) -> FilesystemReport:
    """The mount's status over bytes and inodes, with the limits it crossed."""
    space = config.used_percent.grade(usage.used_percent)
    parts = []
    if space is not Status.OK:
        limit = config.used_percent.describe(space)
        parts.append(f"{usage.used_percent:.1f}% used ({limit})")
    inodes = Status.OK
    if usage.inodes_used_percent is not None:
        inodes = config.inodes_used_percent.grade(usage.inodes_used_percent)
        if inodes is not Status.OK:
            limit = config.inodes_used_percent.describe(inodes)
            parts.append(f"{usage.inodes_used_percent:.1f}% inodes used ({limit})")
    problem = f"{mount.mountpoint} {', '.join(parts)}" if parts else ""
    status = worst((space, inodes))
    why = Reason.SPACE if space is status else Reason.INODES
    return FilesystemReport(mount, status, problem, usage=usage, why=why)


def unreadable_report(mount: Mount, reason: str) -> FilesystemReport:
    problem = f"{mount.mountpoint}: {reason}"
    why = unreadable_why(reason)
    return FilesystemReport(mount, Status.UNKNOWN, problem, error=reason, why=why)


def unreadable_why(reason: str) -> Reason:
    """The bounded reason of ``unreadable_reason``'s words."""
    if reason.startswith("hung:"):
        return Reason.HUNG
    if reason == "stale file handle":
        return Reason.STALE_HANDLE
    if reason.startswith(("permission denied", "operation not permitted")):
        return Reason.DENIED
    return Reason.ERROR


def ok_line(report: FilesystemReport) -> str:
    """One healthy filesystem in words: ``/data 42.0% used, 3.1% inodes used``."""
    usage = report.usage
    if usage is None:
        return f"{report.mount.mountpoint} OK"
    line = f"{report.mount.mountpoint} {usage.used_percent:.1f}% used"
    if usage.inodes_used_percent is not None:
        line += f", {usage.inodes_used_percent:.1f}% inodes used"
    return line


def summary_line(reports: Sequence[FilesystemReport]) -> str:
    """The worst mount(s) in one line, or how many filesystems are OK."""
    status = worst(report.status for report in reports)
    if status is Status.OK:
        if len(reports) == 1:
            return ok_line(reports[0])
        return f"{len(reports)} filesystems OK"
    named = [report.problem for report in reports if report.status is status]
    line = "; ".join(named[:MAX_NAMED_IN_SUMMARY])
    not_named = sum(1 for report in reports if report.status is not Status.OK) - min(
        len(named), MAX_NAMED_IN_SUMMARY
    )
    if not_named:
        line += f" (+{not_named} more not OK)"
    return line


def usage_samples(mount: Mount, usage: Usage) -> tuple[Sample, ...]:
    labels = (mount.mountpoint,)
    return (
        Sample(SIZE_BYTES.name, usage.size_bytes, labels),
        Sample(AVAILABLE_BYTES.name, usage.available_bytes, labels),
        Sample(USED_BYTES.name, usage.used_bytes, labels),
        Sample(INODES.name, usage.inodes, labels),
        Sample(INODES_FREE.name, usage.inodes_free, labels),
    )


def report_details(report: FilesystemReport) -> dict[str, Any]:
    """One mount for the JSON report."""
    details: dict[str, Any] = {
        "mountpoint": report.mount.mountpoint,
        "fstype": report.mount.fstype,
        "source": report.mount.source,
        "status": report.status.name,
    }
    if report.error is not None:
        details["error"] = report.error
    usage = report.usage
    if usage is not None:
        inodes_percent = usage.inodes_used_percent
        details |= {
            "size_bytes": usage.size_bytes,
            "available_bytes": usage.available_bytes,
            "used_bytes": usage.used_bytes,
            "used_percent": round(usage.used_percent, 2),
            "inodes": usage.inodes,
            "inodes_free": usage.inodes_free,
            "inodes_used_percent": None if inodes_percent is None else round(inodes_percent, 2),
        }
    return details


def path_details(config: DiskProbe, reports: Sequence[FilesystemReport]) -> dict[str, Any]:
    """The JSON report: the configured path (if any) and every filesystem."""
    details: dict[str, Any] = {"filesystems": [report_details(report) for report in reports]}
    if config.path is not None:
        details["path"] = config.path
    return details


async def run(config: DiskProbe, context: ProbeContext) -> Result:
    # Tens of thousands of mounts on a busy node: matched in a worker thread, off the loop.
    mounts = await blocking_within(
        context, selected_filesystems, config, context.mounts(), resource=None
    )
    if not mounts:
        if config.path is not None:
            reason = f"no filesystem holds {config.path} in the mount table"
        else:
            reason = "no filesystem matches"
        return Result(Status.UNKNOWN, reason, path_details(config, []), reason=Reason.MISSING)
    reports = []
    samples: list[Sample] = []
    for mount, answer in zip(mounts, await statvfs_all(mounts, context, config), strict=True):
        if answer is NO_SUCH_PATH and config.path is not None:
            gone = missing(config.path)
            summary = f"{gone.text} (it would be on {mount.mountpoint})"
            details = path_details(config, [])
            return Result(Status.CRITICAL, summary, details, reason=gone.reason)
        if isinstance(answer, str):
            reports.append(unreadable_report(mount, answer))
            continue
        usage = usage_from_statvfs(answer)
        reports.append(graded_report(mount, usage, config))
        samples.extend(usage_samples(mount, usage))
    status = worst(report.status for report in reports)
    # The first filesystem at the worst status names the reason and the part (its mount point).
    first = next(report for report in reports if report.status is status)
    failing = status is not Status.OK
    return Result(
        status=status,
        summary=summary_line(reports),
        details=path_details(config, reports),
        samples=tuple(samples),
        reason=first.why if failing else None,
        part=first.mount.mountpoint if failing else "",
    )


KIND = ProbeKind(
    config=DiskProbe,
    run=run,
    metrics=(SIZE_BYTES, AVAILABLE_BYTES, USED_BYTES, INODES, INODES_FREE),
)
