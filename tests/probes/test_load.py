"""The ``load`` kind on fixture /proc and /sys trees (cgroup v1 and v2) and on this machine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from exporter.probe_api import Result, Status
from probes.load import (
    KIND,
    LoadProbe,
    cgroup_and_ancestors,
    cgroup_quota,
    effective_cpus,
    parse_cpu_max,
)
from tests.support.context import make_context

AFFINITY = len(os.sched_getaffinity(0))


class HostTree:
    """A fixture ``/proc`` and ``/sys`` under tmp_path, written file by file."""

    def __init__(self, root: Path) -> None:
        self.proc = root / "proc"
        self.sys = root / "sys"
        self.proc.mkdir()
        self.sys.mkdir()

    def write(self, path: str, text: str) -> None:
        """Write ``/proc/...`` or ``/sys/...`` inside the tree."""
        top, _, rest = path.lstrip("/").partition("/")
        target = {"proc": self.proc, "sys": self.sys}[top] / rest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def host(
        self, loadavg: str = "0.10 0.20 0.30 1/200 4242", cgroup: str | None = "0::/\n"
    ) -> HostTree:
        self.write("/proc/loadavg", loadavg + "\n")
        if cgroup is not None:
            self.write("/proc/self/cgroup", cgroup)
        return self

    async def run(self, config: LoadProbe) -> Result:
        return await KIND.run(config, self.context())

    def context(self) -> Any:
        return make_context(proc_root=str(self.proc), sys_root=str(self.sys))


@pytest.fixture
def tree(tmp_path: Path) -> HostTree:
    return HostTree(tmp_path)


def probe(**fields: Any) -> LoadProbe:
    return LoadProbe(name="load", kind="load", **fields)


# --- config ---------------------------------------------------------------------------------


def test_defaults_grade_load5_per_cpu_only() -> None:
    config = probe()
    assert config.per_cpu is True
    assert config.load1 is None
    assert config.load15 is None
    assert config.load5 is not None
    assert config.load5.grade(2) is Status.OK
    assert config.load5.grade(2.01) is Status.WARNING
    assert config.load5.grade(4.01) is Status.CRITICAL


def test_unknown_keys_are_config_errors() -> None:
    with pytest.raises(ValidationError):
        probe(load30={"warning": 1})


def test_kind_declares_its_series() -> None:
    assert KIND.name == "load"
    families = {family.name: family for family in KIND.metrics}
    assert families["site_status_load_average"].labels == ("window",)
    assert families["site_status_load_cpus"].labels == ()
    assert all(family.help for family in KIND.metrics)


# --- CPU count: cgroup quotas ---------------------------------------------------------------


def test_cpu_max_parsing() -> None:
    assert parse_cpu_max("max 100000\n") is None
    assert parse_cpu_max("150000 100000\n") == 1.5
    assert parse_cpu_max("50000 100000") == 0.5


def test_a_cgroup_and_its_ancestors_up_to_the_mount() -> None:
    assert list(cgroup_and_ancestors("/sys/fs/cgroup", "/a.slice/b.scope")) == [
        "/sys/fs/cgroup/a.slice/b.scope",
        "/sys/fs/cgroup/a.slice",
        "/sys/fs/cgroup",
    ]
    assert list(cgroup_and_ancestors("/sys/fs/cgroup/cpu", "/")) == ["/sys/fs/cgroup/cpu"]
    assert list(cgroup_and_ancestors("/sys/fs/cgroup", "//a")) == [
        "/sys/fs/cgroup/a",
        "/sys/fs/cgroup",
    ]


async def test_cgroup_v2_quota_of_our_cgroup(tree: HostTree) -> None:
    tree.host(cgroup="0::/kubepods.slice/pod-1.slice/cri-abc.scope\n")
    tree.write("/sys/fs/cgroup/kubepods.slice/pod-1.slice/cri-abc.scope/cpu.max", "50000 100000\n")
    cpus = effective_cpus(tree.context())
    assert (cpus.cpus, cpus.source) == (0.5, "cgroup v2 quota")


async def test_cgroup_v2_fractional_quota_is_kept_as_a_float(tree: HostTree) -> None:
    tree.host(cgroup="0::/app\n")
    tree.write("/sys/fs/cgroup/app/cpu.max", "150000 100000\n")
    result = await tree.run(probe())
    if AFFINITY >= 2:
        assert result.details["cpus"] == 1.5
        assert result.details["cpu_source"] == "cgroup v2 quota"
    else:
        assert (result.details["cpus"], result.details["cpu_source"]) == (1.0, "affinity")


async def test_cgroup_v2_quota_on_the_namespace_root(tree: HostTree) -> None:
    # Inside a container with a cgroup namespace, /proc/self/cgroup says "0::/" and the
    # container's own cgroup is mounted as /sys/fs/cgroup.
    tree.host(cgroup="0::/\n")
    tree.write("/sys/fs/cgroup/cpu.max", "25000 100000\n")
    cpus = effective_cpus(tree.context())
    assert (cpus.cpus, cpus.source) == (0.25, "cgroup v2 quota")


async def test_cgroup_v2_tighter_quota_on_a_parent_wins(tree: HostTree) -> None:
    tree.host(cgroup="0::/site.slice/app.service\n")
    tree.write("/sys/fs/cgroup/site.slice/app.service/cpu.max", "max 100000\n")
    tree.write("/sys/fs/cgroup/site.slice/cpu.max", "50000 100000\n")
    assert effective_cpus(tree.context()).cpus == 0.5


async def test_cgroup_v2_without_quota_uses_affinity(tree: HostTree) -> None:
    tree.host(cgroup="0::/app\n")
    tree.write("/sys/fs/cgroup/app/cpu.max", "max 100000\n")
    assert cgroup_quota(tree.context()) is None
    cpus = effective_cpus(tree.context())
    assert (cpus.cpus, cpus.source) == (float(AFFINITY), "affinity")


async def test_quota_larger_than_affinity_uses_affinity(tree: HostTree) -> None:
    tree.host(cgroup="0::/app\n")
    tree.write("/sys/fs/cgroup/app/cpu.max", f"{(AFFINITY + 2) * 100000} 100000\n")
    quota = cgroup_quota(tree.context())
    assert quota is not None and quota.cpus == AFFINITY + 2
    cpus = effective_cpus(tree.context())
    assert (cpus.cpus, cpus.source) == (float(AFFINITY), "affinity")


async def test_cgroup_v1_quota_in_the_cpu_cpuacct_hierarchy(tree: HostTree) -> None:
    tree.host(
        cgroup="12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n"
    )
    tree.write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n")
    tree.write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    cpus = effective_cpus(tree.context())
    assert (cpus.cpus, cpus.source) == (0.5, "cgroup v1 quota")


async def test_cgroup_v1_quota_at_the_mounted_root(tree: HostTree) -> None:
    # Without a cgroup namespace the path names the host's cgroup, but the container sees
    # its own cgroup mounted at /sys/fs/cgroup/cpu: the path does not exist there.
    tree.host(cgroup="3:cpu:/docker/abc\n")
    tree.write("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "25000\n")
    tree.write("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n")
    cpus = effective_cpus(tree.context())
    assert (cpus.cpus, cpus.source) == (0.25, "cgroup v1 quota")


async def test_cgroup_v1_without_quota_uses_affinity(tree: HostTree) -> None:
    tree.host(cgroup="4:cpu,cpuacct:/\n")
    tree.write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    tree.write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert cgroup_quota(tree.context()) is None
    assert effective_cpus(tree.context()).source == "affinity"


async def test_no_cgroup_information_uses_affinity(tree: HostTree) -> None:
    tree.host(cgroup=None)
    result = await tree.run(probe())
    assert (result.details["cpus"], result.details["cpu_source"]) == (AFFINITY, "affinity")


# --- grading --------------------------------------------------------------------------------


def half_cpu(tree: HostTree, loadavg: str) -> HostTree:
    tree.host(loadavg=loadavg, cgroup="0::/app\n")
    tree.write("/sys/fs/cgroup/app/cpu.max", "50000 100000\n")
    return tree


async def test_low_load_is_ok_with_all_three_averages(tree: HostTree) -> None:
    result = await half_cpu(tree, "0.40 0.60 0.30 2/300 999").run(probe())
    assert result.status is Status.OK
    assert result.summary == "load 0.4, 0.6, 0.3 on 0.5 CPUs"
    assert result.details["load5"] == 0.6
    assert result.details["status"] == {"load1": "OK", "load5": "OK", "load15": "OK"}


async def test_load_per_cpu_over_warning(tree: HostTree) -> None:
    result = await half_cpu(tree, "0.40 1.50 0.30 2/300 999").run(probe())
    assert result.status is Status.WARNING
    assert result.summary == "load5 1.5 = 3 per CPU on 0.5 CPUs (max 2)"


async def test_load_per_cpu_over_critical(tree: HostTree) -> None:
    result = await half_cpu(tree, "0.40 2.50 0.30 2/300 999").run(probe())
    assert result.status is Status.CRITICAL
    assert result.summary == "load5 2.5 = 5 per CPU on 0.5 CPUs (max 4)"


@pytest.mark.skipif(AFFINITY < 2, reason="needs two CPUs")
async def test_summary_on_two_cpus(tree: HostTree) -> None:
    tree.host(loadavg="3.00 9.10 5.00 9/300 999", cgroup="0::/app\n")
    tree.write("/sys/fs/cgroup/app/cpu.max", "200000 100000\n")
    result = await tree.run(probe())
    assert result.status is Status.CRITICAL
    assert result.summary == "load5 9.1 = 4.55 per CPU on 2 CPUs (max 4)"


async def test_absolute_limits_ignore_the_cpu_count(tree: HostTree) -> None:
    loaded = half_cpu(tree, "0.40 1.50 0.30 2/300 999")
    absolute = await loaded.run(probe(per_cpu=False))
    assert absolute.status is Status.OK  # 1.5 is below 2 when not divided by 0.5 CPUs
    critical = await loaded.run(probe(per_cpu=False, load5={"warning": 0.5, "critical": 1}))
    assert critical.status is Status.CRITICAL
    assert critical.summary == "load5 1.5 (max 1)"


async def test_every_window_at_the_worst_status_is_named(tree: HostTree) -> None:
    loaded = half_cpu(tree, "3.00 1.00 1.60 2/300 999")
    config = probe(load1={"critical": 4}, load5={"warning": 3}, load15={"critical": "~:3"})
    result = await loaded.run(config)
    assert result.status is Status.CRITICAL
    assert result.summary == (
        "load1 3 = 6 per CPU on 0.5 CPUs (max 4); load15 1.6 = 3.2 per CPU on 0.5 CPUs (range ~:3)"
    )
    assert result.details["status"] == {"load1": "CRITICAL", "load5": "OK", "load15": "CRITICAL"}


async def test_windows_without_limits_are_not_graded(tree: HostTree) -> None:
    result = await half_cpu(tree, "50.00 0.10 40.00 2/300 999").run(probe())
    assert result.status is Status.OK


async def test_samples_are_the_raw_averages_and_cpus(tree: HostTree) -> None:
    result = await half_cpu(tree, "0.40 1.50 0.30 2/300 999").run(probe())
    samples = {(s.family, s.labels): s.value for s in result.samples}
    assert samples == {
        ("site_status_load_average", ("1m",)): 0.4,
        ("site_status_load_average", ("5m",)): 1.5,
        ("site_status_load_average", ("15m",)): 0.3,
        ("site_status_load_cpus", ()): 0.5,
    }


async def test_unreadable_loadavg_raises_for_the_runner(tree: HostTree) -> None:
    tree.host(loadavg="garbage")
    with pytest.raises(ValueError, match="unexpected /proc/loadavg content"):
        await tree.run(probe())


# --- this machine ---------------------------------------------------------------------------


def real_load_averages() -> list[float]:
    return [float(field) for field in Path("/proc/loadavg").read_text().split()[:3]]


async def test_real_machine() -> None:
    context = make_context()
    before = real_load_averages()
    result = await KIND.run(probe(), context)
    details = result.details
    for field, expected in zip(("load1", "load5", "load15"), before, strict=True):
        assert details[field] >= 0
        assert details[field] == pytest.approx(expected, abs=1.0)
    quota = cgroup_quota(context)
    expected_cpus = min(AFFINITY, quota.cpus) if quota else AFFINITY
    assert details["cpus"] == pytest.approx(expected_cpus)
    assert 0 < details["cpus"] <= (os.cpu_count() or 1)
    assert details["cpu_source"] in ("cgroup v2 quota", "cgroup v1 quota", "affinity")
    limits = probe().load5
    assert limits is not None
    assert result.status is limits.grade(details["load5"] / details["cpus"])
    assert len(result.samples) == 4
