"""The ``mount`` probe kind: network and FUSE mounts are there, answer, and are writable.

Each mount gets one ``statvfs`` in a worker thread with the run's deadline, all at once. A mount
that does not answer is *hung*: its thread is abandoned and, until it returns, later runs say so
at once instead of starting another thread (``site_status_mount_stuck`` comes from the runtime).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import model_validator

from exporter.blocking import BlockingTimeout, ResourceStuck
from exporter.failure_text import hung
from exporter.mounts import (
    RUNTIME_MOUNTPOINTS,
    USER_SESSION_FSTYPES,
    USER_SESSION_MOUNTPOINTS,
    matches_any,
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
)
from exporter.status import Status, worst
from probes.deadline import blocking_within

if TYPE_CHECKING:
    from exporter.mounts import Mount, MountTable

STATUS = MetricFamily(
    "site_status_mount_status",
    "Nagios code of each checked mount: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    labels=("mountpoint",),
)
READ_ONLY = MetricFamily(
    "site_status_mount_read_only", "1 if the mount is read-only.", labels=("mountpoint",)
)


class MountProbe(ProbeConfig):
    """Listed mount points, or (when none are listed) every network or FUSE mount."""

    kind: Literal["mount"]
    mountpoints: tuple[AbsolutePath, ...] = ()
    fstypes: tuple[str, ...] = ()
    #: Globs on mount points left out of the automatic mode.
    exclude: tuple[str, ...] = ()
    #: In the automatic mode, leave out per-user desktop FUSE mounts (gvfs under /run/user)
    #: and the container runtimes' own mounts (``USER_SESSION_*``, ``RUNTIME_MOUNTPOINTS``).
    default_excludes: bool = True
    expect_writable: bool = True

    @model_validator(mode="after")
    def _exclude_is_for_the_automatic_mode(self) -> MountProbe:
        if self.mountpoints and self.exclude:
            raise ValueError("exclude applies only without mountpoints (the automatic mode)")
        return self


@dataclass(frozen=True, slots=True)
class MountCheck:
    """The verdict on one mount point."""

    mountpoint: str
    status: Status
    reason: str
    mount: Mount | None = None
    stuck_since: float | None = None
    #: The bounded reason of a check that is not OK (exporter/reasons.py).
    why: Reason = Reason.ERROR

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mountpoint": self.mountpoint,
            "status": self.status.name,
            "reason": self.reason,
        }
        if self.mount is not None:
            out |= {
                "fstype": self.mount.fstype,
                "source": self.mount.source,
                "read_only": self.mount.read_only,
            }
        if self.stuck_since is not None:
            out["stuck_since"] = self.stuck_since
        return out


def mounts_to_check(config: MountProbe, table: MountTable) -> list[tuple[str, Mount | None]]:
    """The configured mount points (``None`` when not mounted), or every network/FUSE mount."""
    if config.mountpoints:
        return [(point, table.get(point)) for point in config.mountpoints]
    return [
        (mount.mountpoint, mount)
        for mount in table.all()
        if mount.is_network_or_fuse
        and (not config.fstypes or matches_any(mount.fstype, config.fstypes))
        and not left_out(config, mount)
    ]


def left_out(config: MountProbe, mount: Mount) -> bool:
    """Excluded by the config, or by default: a user's desktop session, a container's layers."""
    if matches_any(mount.mountpoint, config.exclude):
        return True
    if not config.default_excludes:
        return False
    return matches_any(mount.fstype, USER_SESSION_FSTYPES) or matches_any(
        mount.mountpoint, (*USER_SESSION_MOUNTPOINTS, *RUNTIME_MOUNTPOINTS)
    )


ERRNO_REASONS = {
    errno.ESTALE: Reason.STALE_HANDLE,
    errno.EACCES: Reason.DENIED,
    errno.EPERM: Reason.DENIED,
}


async def check_mount(
    config: MountProbe, mountpoint: str, mount: Mount | None, context: ProbeContext
) -> MountCheck:
    """Mounted, answering ``statvfs``, and writable if it should be."""
    if mount is None:
        return MountCheck(mountpoint, Status.CRITICAL, "not mounted", why=Reason.MISSING)
    try:
        where = context.host_path(mount.mountpoint)  # the node's, when its root is mounted in
        await blocking_within(context, os.statvfs, where, resource=mount.mountpoint)
    except BlockingTimeout as error:
        failure = hung(error, context.timeout)
        return MountCheck(mountpoint, Status.CRITICAL, failure.text, mount, why=failure.reason)
    except ResourceStuck as error:
        failure = hung(error)
        since = error.since
        return MountCheck(
            mountpoint, Status.CRITICAL, failure.text, mount, since, why=failure.reason
        )
    except OSError as error:
        status, reason = graded_error(error, listed=bool(config.mountpoints))
        why = ERRNO_REASONS.get(error.errno or 0, Reason.ERROR)
        return MountCheck(mountpoint, status, reason, mount, why=why)
    if mount.read_only and config.expect_writable:
        return MountCheck(mountpoint, Status.WARNING, "read-only", mount, why=Reason.READ_ONLY)
    return MountCheck(mountpoint, Status.OK, "ok", mount)


def graded_error(error: OSError, *, listed: bool) -> tuple[Status, str]:
    """The status and reason for a failed ``statvfs``.

    Permission denied is an answer: the mount is neither hung nor stale, the exporter may just
    not enter it (a FUSE mount without ``allow_other``). Found automatically it is OK with that
    reason; listed by the operator it is a WARNING, since what they asked for goes unchecked.
    """
    if error.errno == errno.ESTALE:
        return Status.CRITICAL, "stale file handle"
    if error.errno in (errno.EACCES, errno.EPERM):
        if listed:
            return Status.WARNING, "permission denied: the exporter may not enter it"
        return Status.OK, "answers (permission denied to the exporter)"
    return Status.CRITICAL, error.strerror or str(error)


async def run(config: MountProbe, context: ProbeContext) -> Result:
    targets = mounts_to_check(config, context.mounts())
    if not targets:
        return Result(Status.OK, "no network or FUSE mounts", {"mounts": []})
    checks: list[MountCheck | None] = [None] * len(targets)

    async def check(index: int, mountpoint: str, mount: Mount | None) -> None:
        checks[index] = await check_mount(config, mountpoint, mount, context)

    async with anyio.create_task_group() as group:
        for index, (mountpoint, mount) in enumerate(targets):
            group.start_soon(check, index, mountpoint, mount)
    done = [c for c in checks if c is not None]
    status = worst(c.status for c in done)
    # The first mount at the worst status names the reason and the part.
    first = next((c for c in done if c.status is status), None)
    return Result(
        status,
        summary(done),
        {"mounts": [c.details() for c in done]},
        tuple(sample for c in done for sample in samples(c)),
        reason=first.why if first is not None and status is not Status.OK else None,
        part=first.mountpoint if first is not None and status is not Status.OK else "",
    )


def summary(checks: list[MountCheck]) -> str:
    """``/mnt/a: stale file handle; /mnt/b: read-only`` or ``3 mounts OK``."""
    failing = [c for c in checks if c.status is not Status.OK]
    if not failing:
        if len(checks) == 1:
            return f"{checks[0].mountpoint} OK"
        return f"{len(checks)} mounts OK"
    text = "; ".join(f"{c.mountpoint}: {c.reason}" for c in failing)
    healthy = len(checks) - len(failing)
    return f"{text} ({healthy} other{'s' if healthy != 1 else ''} OK)" if healthy else text


def samples(check: MountCheck) -> tuple[Sample, ...]:
    status = Sample(STATUS.name, float(check.status), (check.mountpoint,))
    if check.mount is None:
        return (status,)
    return (status, Sample(READ_ONLY.name, float(check.mount.read_only), (check.mountpoint,)))


KIND = ProbeKind(config=MountProbe, run=run, metrics=(STATUS, READ_ONLY))
