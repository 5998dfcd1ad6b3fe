"""The ``mount`` probe on real mounts: FUSE (ok, stale, hung, read-only) and a read-only tmpfs."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING, Any

import anyio
import pydantic
import pytest

from exporter.blocking import BlockingRunner
from exporter.mounts import MountTable, parse_mountinfo
from exporter.probe_api import Reason, Result, Status
from probes import mount as mount_probe
from tests.support.context import make_context
from tests.support.timing import LOADED

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.fuse_mounts import FuseMounts


async def run_probe(
    budget: float = 5.0, blocking: BlockingRunner | None = None, **fields: Any
) -> Result:
    config = mount_probe.MountProbe.model_validate({"name": "m", "kind": "mount", **fields})
    return await mount_probe.run(config, make_context(budget, blocking=blocking))


def by_mountpoint(result: Result) -> dict[str, dict[str, Any]]:
    return {entry["mountpoint"]: entry for entry in result.details["mounts"]}


def sample_values(result: Result) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(sample.family, sample.labels): sample.value for sample in result.samples}


@pytest.fixture
def read_only_tmpfs(tmp_path: Path) -> Iterator[str]:
    point = tmp_path / "ro-tmpfs"
    point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(point)], check=True, timeout=10
    )
    try:
        yield str(point)
    finally:
        subprocess.run(["umount", "-l", str(point)], check=True, timeout=10)


async def test_healthy_mount_is_ok(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("ok")
    result = await run_probe(mountpoints=[mount.path])
    assert result.status is Status.OK
    assert result.summary == f"{mount.path} OK"
    entry = by_mountpoint(result)[mount.path]
    assert entry["fstype"].startswith("fuse")
    assert entry["read_only"] is False
    assert sample_values(result) == {
        ("site_status_mount_status", (mount.path,)): 0,
        ("site_status_mount_read_only", (mount.path,)): 0,
    }


async def test_stale_mount_is_critical(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("stale")
    result = await run_probe(mountpoints=[mount.path])
    assert result.status is Status.CRITICAL
    assert result.summary == f"{mount.path}: stale file handle"
    assert (result.reason, result.part) == (Reason.STALE_HANDLE, mount.path)
    assert sample_values(result)[("site_status_mount_status", (mount.path,))] == 2


async def test_hung_mount_is_critical_and_holds_one_thread(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("hung")
    runner = BlockingRunner()

    started = time.monotonic()
    first = await run_probe(budget=1.0, blocking=runner, mountpoints=[mount.path])
    assert time.monotonic() - started < 1.0 + LOADED
    assert first.status is Status.CRITICAL
    assert first.summary.startswith(f"{mount.path}: hung: no answer within ")
    assert (first.reason, first.part) == (Reason.HUNG, mount.path)

    # At once: waiting on the earlier call would take this run's 5 s.
    started = time.monotonic()
    second = await run_probe(budget=5.0, blocking=runner, mountpoints=[mount.path])
    assert time.monotonic() - started < LOADED
    assert second.status is Status.CRITICAL
    assert second.summary.startswith(f"{mount.path}: hung: an earlier call has not returned for ")
    since = by_mountpoint(second)[mount.path]["stuck_since"]
    assert runner.stuck() == {mount.path: since}
    assert runner.abandoned_threads() == 1

    mount.abort()  # the stuck statvfs returns (with an error): the mount is no longer stuck
    for _ in range(150):
        if not runner.stuck():
            break
        await anyio.sleep(0.02)
    assert runner.stuck() == {}
    assert runner.abandoned_threads() == 0
    third = await run_probe(blocking=runner, mountpoints=[mount.path])
    assert third.status is Status.CRITICAL  # the connection is gone: "not connected"
    assert not by_mountpoint(third)[mount.path]["reason"].startswith("hung")


async def test_read_only_fuse_mount_warns_when_expected_writable(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("readonly")
    result = await run_probe(mountpoints=[mount.path])
    assert result.status is Status.WARNING
    assert result.summary == f"{mount.path}: read-only"
    assert (result.reason, result.part) == (Reason.READ_ONLY, mount.path)
    assert sample_values(result)[("site_status_mount_read_only", (mount.path,))] == 1
    expected = await run_probe(mountpoints=[mount.path], expect_writable=False)
    assert expected.status is Status.OK


async def test_read_only_tmpfs_warns(read_only_tmpfs: str) -> None:
    result = await run_probe(mountpoints=[read_only_tmpfs])
    assert result.status is Status.WARNING
    assert result.summary == f"{read_only_tmpfs}: read-only"


async def test_missing_mount_is_critical(tmp_path: Path) -> None:
    result = await run_probe(mountpoints=[str(tmp_path)])
    assert result.status is Status.CRITICAL
    assert result.summary == f"{tmp_path}: not mounted"
    assert (result.reason, result.part) == (Reason.MISSING, str(tmp_path))
    assert sample_values(result) == {("site_status_mount_status", (str(tmp_path),)): 2}


async def test_auto_mode_checks_every_fuse_mount_at_once(fuse_mount: FuseMounts) -> None:
    healthy, stale, hung = fuse_mount("ok"), fuse_mount("stale"), fuse_mount("hung")
    started = time.monotonic()
    result = await run_probe(budget=1.0, fstypes=["fuse*"])
    assert time.monotonic() - started < 1.0 + LOADED
    found = by_mountpoint(result)
    assert found[healthy.path]["status"] == "OK"
    assert found[stale.path]["reason"] == "stale file handle"
    assert found[hung.path]["reason"].startswith("hung: ")
    assert result.status is Status.CRITICAL
    assert f"{stale.path}: stale file handle" in result.summary
    assert f"{hung.path}: hung" in result.summary
    assert healthy.path not in result.summary
    assert "\n" not in result.summary


async def test_auto_mode_fstype_filter(fuse_mount: FuseMounts) -> None:
    fuse_mount("stale")
    result = await run_probe(fstypes=["no-such-fstype"])
    assert result.status is Status.OK
    assert result.summary == "no network or FUSE mounts"


def test_kind_declares_its_name_and_series() -> None:
    assert mount_probe.KIND.name == "mount"
    assert [(f.name, f.labels) for f in mount_probe.KIND.metrics] == [
        ("site_status_mount_status", ("mountpoint",)),
        ("site_status_mount_read_only", ("mountpoint",)),
    ]


async def test_a_mount_the_exporter_may_not_enter_answers(fuse_mount: FuseMounts) -> None:
    # Found automatically: it answered (EACCES), so it is not hung or stale; the site is fine.
    denied = fuse_mount("denied")
    result = await run_probe(fstypes=["fuse*"])  # other tests' mounts may show up here too
    entry = by_mountpoint(result)[denied.path]
    assert (entry["status"], entry["reason"]) == (
        "OK",
        "answers (permission denied to the exporter)",
    )
    assert f"{denied.path}: " not in result.summary


async def test_a_listed_mount_the_exporter_may_not_enter_warns(fuse_mount: FuseMounts) -> None:
    denied = fuse_mount("denied")
    result = await run_probe(mountpoints=[denied.path])
    assert result.status is Status.WARNING
    assert result.summary == f"{denied.path}: permission denied: the exporter may not enter it"


GVFS_DESKTOP = """\
29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
3002 28 0:79 / /run/user/1000 rw,nosuid,nodev,relatime shared:1225 - tmpfs tmpfs rw,mode=700
3147 3002 0:81 / /run/user/1000/gvfs rw,nosuid,nodev,relatime shared:1290 - fuse.gvfsd-fuse \
gvfsd-fuse rw,user_id=1000,group_id=1000
3150 3002 0:82 / /run/user/1000/doc rw,nosuid,nodev,relatime shared:1291 - fuse.portal portal rw
3151 29 0:83 / /snap/hello/20 ro,nodev,relatime - fuse.snapfuse snapfuse ro
3152 29 0:84 / /mnt/share rw,relatime - cifs //nas/share rw,vers=3.1.1
"""


def test_automatic_mode_leaves_out_desktop_sessions_and_snaps() -> None:
    config = mount_probe.MountProbe.model_validate({"name": "m", "kind": "mount"})
    table = MountTable(parse_mountinfo(GVFS_DESKTOP))
    assert [point for point, _ in mount_probe.mounts_to_check(config, table)] == ["/mnt/share"]
    everything = config.model_copy(update={"default_excludes": False})
    assert len(mount_probe.mounts_to_check(everything, table)) == 4
    configured = mount_probe.MountProbe.model_validate(
        {"name": "m", "kind": "mount", "exclude": ["/mnt/*"]}
    )
    assert mount_probe.mounts_to_check(configured, table) == []


def test_exclude_is_for_the_automatic_mode() -> None:
    with pytest.raises(pydantic.ValidationError, match="exclude applies only without mountpoints"):
        mount_probe.MountProbe.model_validate(
            {"name": "m", "kind": "mount", "mountpoints": ["/mnt"], "exclude": ["/x"]}
        )
