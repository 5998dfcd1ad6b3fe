"""The ``disk`` kind on real filesystems: the root, tmpfs mounted here, FUSE, fixture tables."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from exporter.blocking import BlockingRunner
from exporter.mounts import MountTable, parse_mountinfo
from exporter.probe_api import Reason, Result, Status
from probes.disk import KIND, DiskProbe, selected_filesystems
from tests.support.context import make_context

if TYPE_CHECKING:
    from tests.support.fuse_mounts import FuseMounts

FIXTURES = Path(__file__).with_name("fixtures")
MiB = 1024 * 1024
FAMILIES = {
    "site_status_disk_size_bytes",
    "site_status_disk_available_bytes",
    "site_status_disk_used_bytes",
    "site_status_disk_inodes",
    "site_status_disk_inodes_free",
}

MountTmpfs = Callable[..., Path]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[MountTmpfs]:
    """``tmpfs("name", inodes=20)``: a real 4 MiB tmpfs under tmp_path, unmounted in teardown."""
    mounted: list[Path] = []

    def mount(name: str, size: str = "4m", inodes: int = 64) -> Path:
        target = tmp_path / name
        target.mkdir()
        options = f"size={size},nr_inodes={inodes}"
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], check=True, timeout=10
        )
        mounted.append(target)
        return target

    try:
        yield mount
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", str(target)], check=False, timeout=10)


def fill(directory: Path, size: int, name: str = "filler") -> None:
    (directory / name).write_bytes(b"x" * size)


def probe(**fields: Any) -> DiskProbe:
    return DiskProbe(name="disk", kind="disk", **fields)


async def run(config: DiskProbe, **context: Any) -> Result:
    return await KIND.run(config, make_context(**context))


def mountpoints(result: Result) -> list[str]:
    return [fs["mountpoint"] for fs in result.details["filesystems"]]


def proc_tree(tmp_path: Path, mountinfo: str) -> str:
    """A fixture ``/proc`` whose ``self/mountinfo`` is ``mountinfo``."""
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(mountinfo)
    return str(proc)


# --- config -------------------------------------------------------------------------------


def test_defaults_are_80_and_90_percent_for_bytes_and_inodes() -> None:
    config = probe()
    for limits in (config.used_percent, config.inodes_used_percent):
        assert limits.grade(80) is Status.OK
        assert limits.grade(80.1) is Status.WARNING
        assert limits.grade(90.1) is Status.CRITICAL


def test_path_and_selection_together_are_a_config_error() -> None:
    with pytest.raises(ValidationError, match="either path or include"):
        probe(path="/data", include=["/srv/*"])


def test_relative_path_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="absolute"):
        probe(path="data")


def test_kind_declares_its_series_with_help_and_mountpoint_label() -> None:
    assert KIND.name == "disk"
    assert {family.name for family in KIND.metrics} == FAMILIES
    assert all(family.help and family.labels == ("mountpoint",) for family in KIND.metrics)


# --- the real root filesystem ---------------------------------------------------------------


async def test_root_filesystem_figures_agree_with_statvfs() -> None:
    result = await run(probe(path="/"))
    st = os.statvfs("/")
    [root] = result.details["filesystems"]
    assert root["mountpoint"] == "/"
    assert root["size_bytes"] == st.f_blocks * st.f_frsize > 0
    assert abs(root["used_bytes"] - (st.f_blocks - st.f_bfree) * st.f_frsize) < 64 * MiB
    assert abs(root["available_bytes"] - st.f_bavail * st.f_frsize) < 64 * MiB
    assert root["used_bytes"] + root["available_bytes"] <= root["size_bytes"]
    df_percent = root["used_bytes"] / (root["used_bytes"] + root["available_bytes"]) * 100
    assert root["used_percent"] == pytest.approx(df_percent, abs=0.01)
    assert 0 < root["used_percent"] < 100
    assert root["inodes"] == st.f_files
    expected = probe().used_percent.grade(root["used_percent"])
    if root["inodes_used_percent"] is not None:
        expected = max(expected, probe().inodes_used_percent.grade(root["inodes_used_percent"]))
    assert result.status is expected
    assert root["status"] == expected.name
    assert {(s.family, s.labels) for s in result.samples} == {(f, ("/",)) for f in FAMILIES}
    if result.status is Status.OK:
        assert result.summary.startswith(f"/ {root['used_percent']:.1f}% used")


async def test_default_covers_each_local_filesystem_once(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("local")
    result = await run(probe())
    found = result.details["filesystems"]
    points = mountpoints(result)
    assert "/" in points
    assert str(mounted) in points
    assert len(points) == len(set(points))
    table = MountTable.read()
    mounts = [table.get(point) for point in points]
    assert all(m is not None and m.is_local_storage for m in mounts)
    assert len({m.device for m in mounts if m is not None}) == len(mounts)
    assert not {fs["fstype"] for fs in found} & {"proc", "sysfs", "cgroup", "cgroup2", "devpts"}
    assert {fs["status"] for fs in found} <= {"OK", "WARNING", "CRITICAL"}


# --- a real tmpfs crossing the limits -------------------------------------------------------


async def test_empty_tmpfs_is_ok_with_its_figures(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("small")
    result = await run(probe(path=str(mounted)))
    assert result.status is Status.OK
    # The root directory of a tmpfs is its one used inode: 1 of 64.
    assert result.summary == f"{mounted} 0.0% used, 1.6% inodes used"
    [fs] = result.details["filesystems"]
    assert fs["fstype"] == "tmpfs"
    assert fs["size_bytes"] == 4 * MiB
    assert fs["used_bytes"] == 0
    assert fs["inodes"] == 64
    assert fs["inodes_free"] == 63


async def test_path_below_a_mount_point_grades_that_filesystem(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("small")
    (mounted / "sites" / "default" / "files").mkdir(parents=True)
    fill(mounted, int(3.5 * MiB))
    result = await run(probe(path=f"{mounted}/sites/default/files"))
    assert result.details["path"] == f"{mounted}/sites/default/files"
    assert mountpoints(result) == [str(mounted)]
    assert result.status is Status.WARNING


async def test_path_that_does_not_exist_is_critical_not_its_parent(tmpfs: MountTmpfs) -> None:
    # A typo in path used to grade the filesystem above it, silently.
    mounted = tmpfs("small")
    result = await run(probe(path=f"{mounted}/sites/default/files"))
    assert result.status is Status.CRITICAL
    assert result.summary == (
        f"{mounted}/sites/default/files is missing (it would be on {mounted})"
    )
    assert result.samples == ()


async def test_missing_path_falls_back_to_its_filesystem_when_asked(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("small")
    fill(mounted, int(3.5 * MiB))
    result = await run(probe(path=f"{mounted}/not-yet", parent_if_missing=True))
    assert result.status is Status.WARNING
    assert mountpoints(result) == [str(mounted)]


def test_parent_if_missing_needs_a_path() -> None:
    with pytest.raises(ValidationError, match="parent_if_missing applies only with path"):
        probe(parent_if_missing=True)


async def test_tmpfs_over_the_warning_limit(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("small")
    fill(mounted, int(3.5 * MiB))
    result = await run(probe(path=str(mounted)))
    assert result.status is Status.WARNING
    assert result.summary == f"{mounted} 87.5% used (max 80%)"
    [fs] = result.details["filesystems"]
    assert fs["used_bytes"] == int(3.5 * MiB)
    assert fs["available_bytes"] == int(0.5 * MiB)
    assert fs["used_percent"] == 87.5
    samples = {s.family: s.value for s in result.samples}
    assert samples["site_status_disk_used_bytes"] == 3.5 * MiB
    assert samples["site_status_disk_size_bytes"] == 4 * MiB


async def test_tmpfs_over_the_critical_limit(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("small")
    fill(mounted, int(3.75 * MiB))
    result = await run(probe(path=str(mounted)))
    assert result.status is Status.CRITICAL
    assert result.summary == f"{mounted} 93.8% used (max 90%)"
    assert (result.reason, result.part) == (Reason.SPACE, str(mounted))


async def test_tmpfs_out_of_inodes_is_critical(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("few-inodes", inodes=20)
    for number in range(18):
        (mounted / f"file-{number}").touch()
    result = await run(probe(path=str(mounted)))
    assert result.status is Status.CRITICAL
    assert result.summary == f"{mounted} 95.0% inodes used (max 90%)"
    assert (result.reason, result.part) == (Reason.INODES, str(mounted))
    [fs] = result.details["filesystems"]
    assert (fs["inodes"], fs["inodes_free"], fs["inodes_used_percent"]) == (20, 1, 95.0)


async def test_bytes_and_inodes_both_named_when_both_cross(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("full", inodes=20)
    fill(mounted, int(3.75 * MiB))
    for number in range(16):
        (mounted / f"file-{number}").touch()
    result = await run(probe(path=str(mounted)))
    assert result.status is Status.CRITICAL
    assert result.summary == f"{mounted} 93.8% used (max 90%), 90.0% inodes used (max 80%)"


async def test_nagios_ranges_as_limits(tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("half")
    fill(mounted, 2 * MiB)
    above_40 = await run(probe(path=str(mounted), used_percent={"critical": "~:40"}))
    assert above_40.status is Status.CRITICAL
    assert above_40.summary == f"{mounted} 50.0% used (range ~:40)"
    inside = await run(probe(path=str(mounted), used_percent={"warning": "@40:60"}))
    assert inside.status is Status.WARNING
    assert inside.summary == f"{mounted} 50.0% used (range @40:60)"
    outside = await run(probe(path=str(mounted), used_percent={"warning": "@60:100"}))
    assert outside.status is Status.OK


# --- selection ------------------------------------------------------------------------------


async def test_include_and_exclude_on_mount_points(tmp_path: Path, tmpfs: MountTmpfs) -> None:
    a, b = tmpfs("a"), tmpfs("b")
    both = await run(probe(include=[f"{tmp_path}/*"]))
    assert mountpoints(both) == [str(a), str(b)]
    assert both.status is Status.OK
    assert both.summary == "2 filesystems OK"
    only_a = await run(probe(include=[f"{tmp_path}/*"], exclude=["*/b"]))
    assert mountpoints(only_a) == [str(a)]


async def test_summary_names_only_the_worst_mount(tmp_path: Path, tmpfs: MountTmpfs) -> None:
    a, b, c = tmpfs("a"), tmpfs("b"), tmpfs("c")
    fill(a, int(3.5 * MiB))
    fill(b, int(3.75 * MiB))
    result = await run(probe(include=[f"{tmp_path}/*"]))
    assert result.status is Status.CRITICAL
    assert result.summary == f"{b} 93.8% used (max 90%) (+1 more not OK)"
    statuses = {fs["mountpoint"]: fs["status"] for fs in result.details["filesystems"]}
    assert statuses == {str(a): "WARNING", str(b): "CRITICAL", str(c): "OK"}
    assert {s.labels for s in result.samples} == {(str(a),), (str(b),), (str(c),)}


async def test_fstype_patterns(tmp_path: Path, tmpfs: MountTmpfs) -> None:
    mounted = tmpfs("a")
    root_fstype = MountTable.read().containing("/")
    assert root_fstype is not None
    tmpfs_only = await run(probe(include=[f"{tmp_path}/*"], fstypes=["tmp*"]))
    assert mountpoints(tmpfs_only) == [str(mounted)]
    root_only = await run(probe(fstypes=[root_fstype.fstype]))
    assert "/" in mountpoints(root_only)
    assert {fs["fstype"] for fs in root_only.details["filesystems"]} == {root_fstype.fstype}
    without_tmpfs = await run(probe(exclude_fstypes=["tmpfs"]))
    assert "/" in mountpoints(without_tmpfs)
    assert str(mounted) not in mountpoints(without_tmpfs)


async def test_no_matching_filesystem_is_unknown(tmp_path: Path, tmpfs: MountTmpfs) -> None:
    tmpfs("a")
    result = await run(probe(include=[f"{tmp_path}/*"], exclude_fstypes=["tmpfs"]))
    assert result.status is Status.UNKNOWN
    assert result.summary == "no filesystem matches"
    assert result.samples == ()


def test_bind_mounts_count_once_from_a_pod_mount_table() -> None:
    table = MountTable(parse_mountinfo((FIXTURES / "mountinfo-pod").read_text()))
    assert [m.mountpoint for m in selected_filesystems(probe(), table)] == [
        "/",
        "/data",
        "/etc/hosts",  # the node's disk, once (not again as /dev/termination-log)
        "/run/secrets/kubernetes.io/serviceaccount",
    ]  # /dev and /dev/shm: left out by default, as node_exporter leaves out /dev
    etc = selected_filesystems(probe(include=["/etc/*"]), table)
    assert [m.mountpoint for m in etc] == ["/etc/hosts"]
    network = selected_filesystems(probe(fstypes=["nfs*", "fuse.*"]), table)
    assert [m.mountpoint for m in network] == ["/mnt/remote", "/mnt/shared"]
    files = selected_filesystems(probe(path="/var/www/html/sites/default/files/x.pdf"), table)
    assert [m.mountpoint for m in files] == ["/var/www/html/sites/default/files"]


# --- unknown path, unreadable mounts --------------------------------------------------------


async def test_path_with_no_filesystem_in_the_table_is_unknown(tmp_path: Path) -> None:
    proc = proc_tree(tmp_path, "40 1 8:16 / /data rw,relatime - ext4 /dev/sdb rw\n")
    result = await run(probe(path="/srv/site"), proc_root=proc)
    assert result.status is Status.UNKNOWN
    assert result.summary == "no filesystem holds /srv/site in the mount table"
    assert result.details["filesystems"] == []


async def test_unreadable_mount_is_unknown_with_reason_and_others_still_graded(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "gone")
    real_root = MountTable.read().containing("/")
    assert real_root is not None
    proc = proc_tree(
        tmp_path,
        f"27 1 {real_root.device} / / rw - {real_root.fstype} {real_root.source} rw\n"
        f"90 27 0:999 / {missing} rw - ext4 /dev/sdz rw\n",
    )
    config = probe(include=["/", missing], used_percent=100, inodes_used_percent=100)
    result = await run(config, proc_root=proc)
    assert result.status is Status.UNKNOWN
    assert result.summary == f"{missing}: no such file or directory"
    by_point = {fs["mountpoint"]: fs for fs in result.details["filesystems"]}
    assert by_point[missing]["error"] == "no such file or directory"
    assert by_point["/"]["status"] == "OK"
    assert {s.labels for s in result.samples} == {("/",)}


async def test_fuse_mount_is_read_when_included(fuse_mount: FuseMounts) -> None:
    mounted = fuse_mount("ok")
    assert str(mounted.path) not in mountpoints(await run(probe()))  # not local storage
    result = await run(probe(include=[mounted.path]))
    assert result.status is Status.OK
    # fusefs.py answers statfs with 1000 blocks of 4096, 600 free; 100 inodes, 90 free.
    assert result.summary == f"{mounted.path} 40.0% used, 10.0% inodes used"
    [fs] = result.details["filesystems"]
    assert fs["size_bytes"] == 4096 * 1000


async def test_stale_mount_is_unknown_with_the_reason(fuse_mount: FuseMounts) -> None:
    stale = fuse_mount("stale")
    result = await run(probe(include=[stale.path]))
    assert result.status is Status.UNKNOWN
    assert result.summary == f"{stale.path}: stale file handle"
    assert (result.reason, result.part) == (Reason.STALE_HANDLE, stale.path)
    assert result.samples == ()


async def test_hung_mount_times_out_then_is_stuck_while_others_are_read(
    fuse_mount: FuseMounts, tmpfs: MountTmpfs
) -> None:
    hung = fuse_mount("hung")
    healthy = tmpfs("healthy")
    runner = BlockingRunner()
    config = probe(include=[hung.path, str(healthy)])
    # 2 s: the healthy tmpfs is read in time on a loaded machine too; the hung mount never is.
    first = await run(config, timeout=2.0, blocking=runner)
    assert first.status is Status.UNKNOWN
    # A first timeout reads "hung: no answer within <its budget>"; exporter.blocking at the time of
    # writing reports it as "an earlier call" already (its deadline and the lock's coincide).
    assert first.summary.startswith(f"{hung.path}: ")
    assert first.summary.startswith(f"{hung.path}: hung: "), first.summary
    assert (first.reason, first.part) == (Reason.HUNG, hung.path)
    statuses = {fs["mountpoint"]: fs["status"] for fs in first.details["filesystems"]}
    assert statuses == {hung.path: "UNKNOWN", str(healthy): "OK"}
    assert hung.path in runner.stuck()
    second = await run(config, timeout=5.0, blocking=runner)  # at once for the hung mount
    assert second.summary.startswith(f"{hung.path}: hung: an earlier call has not returned")
    assert runner.abandoned_threads() == 1  # the stuck mount never got a second thread
    assert {s.labels for s in second.samples} == {(str(healthy),)}


# --- what the automatic mode leaves out ---------------------------------------------------------

#: Lines of a Docker and Kubernetes node (shapes from node_exporter's and procfs' fixtures).
CONTAINER_HOST = """\
29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
30 29 259:3 / /var/lib/docker rw,relatime shared:2 - xfs /dev/nvme1n1 rw
31 30 0:50 / /var/lib/docker/overlay2/3f1c/merged rw,relatime - overlay overlay rw,lowerdir=/x
32 29 0:51 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/9a1b/rootfs rw - overlay \
overlay rw
33 29 0:52 / /var/lib/kubelet/pods/0b1c/volumes/kubernetes.io~projected/kube-api-access-x rw \
- tmpfs tmpfs rw,size=3944k
34 29 0:53 / /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/9a1b/shm rw - tmpfs shm rw
35 29 7:1 / /snap/core20/2015 ro,nodev,relatime shared:3 - squashfs /dev/loop1 ro
36 29 0:54 / /proc/fs/nfsd rw,relatime shared:4 - nfsd nfsd rw
37 29 0:55 / /run/rpc_pipefs rw,relatime shared:5 - rpc_pipefs sunrpc rw
38 29 0:56 / /proc/sys/fs/binfmt_misc rw,relatime shared:6 - binfmt_misc binfmt_misc rw
39 29 0:57 / /run/docker/netns/5c2d rw shared:7 - nsfs nsfs rw
40 29 0:58 / /run rw,nosuid,nodev shared:8 - tmpfs tmpfs rw,size=1617716k,mode=755
"""


def test_default_leaves_out_runtime_kubelet_and_pseudo_mounts() -> None:
    table = MountTable(parse_mountinfo(CONTAINER_HOST))
    assert [m.mountpoint for m in selected_filesystems(probe(), table)] == [
        "/",
        "/run",
        "/var/lib/docker",
    ]


def test_default_excludes_can_be_turned_off() -> None:
    table = MountTable(parse_mountinfo(CONTAINER_HOST))
    chosen = [m.mountpoint for m in selected_filesystems(probe(default_excludes=False), table)]
    assert "/var/lib/docker/overlay2/3f1c/merged" in chosen
    assert any(point.startswith("/var/lib/kubelet/pods/") for point in chosen)
    assert "/proc/fs/nfsd" not in chosen  # a pseudo filesystem holds no data, either way


def test_include_selects_what_the_defaults_leave_out() -> None:
    table = MountTable(parse_mountinfo(CONTAINER_HOST))
    chosen = selected_filesystems(probe(include=["/var/lib/kubelet/pods/*"]), table)
    assert [m.fstype for m in chosen] == ["tmpfs"]
