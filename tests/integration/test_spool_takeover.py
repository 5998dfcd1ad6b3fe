"""A rollout with Loki down: the next pod, under another uid in the same fsGroup, delivers every
report the old one spooled, once (the real ``site-status run``, twice, on one volume).

What Kubernetes does is done by hand: the volume's root is group-owned by the fsGroup, setgid
and group-writable (the kubelet's ownership change on mount; with
``fsGroupChangePolicy: OnRootMismatch``, or on a fresh volume, only the root gets it), each pod
runs as its own runAsUser with the fsGroup as a supplementary group. What the old pod created
on the volume is group-owned through the setgid bit, but only group-writable if the exporter
made it so (the container's umask, 022, would not).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.exporter_process import (
    Credentials,
    RunningExporter,
    running_exporter,
    wait_until,
)
from tests.support.loki_double import LokiDouble

FS_GROUP = 2000
GROUP_RW = stat.S_IRGRP | stat.S_IWGRP
OLD_POD = Credentials(uid=10001, gid=10001, groups=(FS_GROUP,))
NEW_POD = Credentials(uid=10002, gid=10002, groups=(FS_GROUP,))
PROBES = ("home", "files")


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """Outside pytest's tmp_path: its parent is 0700, closed to the pods' uids."""
    directory = Path(tempfile.mkdtemp(prefix="spool-takeover-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def volume(workdir: Path) -> Path:
    """The pod's volume as the kubelet leaves it for an fsGroup: root:fsGroup, setgid, g+rwx."""
    path = workdir / "volume"
    path.mkdir()
    os.chown(path, 0, FS_GROUP)
    path.chmod(0o2775)
    return path


def write_files(workdir: Path) -> None:
    (workdir / "data").mkdir(mode=0o755)
    for name in PROBES:
        (workdir / "data" / name).write_text("x")


def write_config(workdir: Path, volume: Path, double: LokiDouble, flush_timeout: str) -> Path:
    probes = "\n".join(
        f"  - {{name: {name}, kind: file, path: {workdir}/data/{name}}}" for name in PROBES
    )
    config = workdir / "site.yaml"
    config.write_text(
        textwrap.dedent(f"""
        site: {{name: rollout-site, environment: test, tier: priprod}}
        # A run that times out on a loaded machine is one report more: all are counted.
        defaults: {{interval: 0.2s, timeout: 0.15s, jitter: 0.01s}}
        reports:
          snapshot_interval: 1h
          file: {volume}/produced.jsonl
          loki:
            url: {double.url}
            batch_max_wait: 50ms
            min_backoff: 50ms
            max_backoff: 200ms
            flush_timeout: {flush_timeout}
            spool: {{directory: {volume}/loki-spool}}
        probes:
        """)
        + probes
        + "\n"
    )
    config.chmod(0o644)
    return config


def produced(volume: Path) -> list[str]:
    return (volume / "produced.jsonl").read_text().splitlines()


def statuses(exporter: RunningExporter) -> dict[str, str]:
    return {probe["name"]: probe["status"] for probe in exporter.status()["probes"]}


def test_the_next_pod_under_another_uid_delivers_what_the_old_one_spooled_once(
    workdir: Path, volume: Path
) -> None:
    double = LokiDouble()  # down
    try:
        write_files(workdir)
        # Loki is down: the old pod gives up on it within 300 ms, as asked.
        config = write_config(workdir, volume, double, flush_timeout="300ms")
        with running_exporter(config, workdir, OLD_POD, "old.log") as old:
            wait_until(lambda: set(statuses(old).values()) == {"OK"}, timeout=20)
            (workdir / "data" / "files").unlink()
            wait_until(lambda: statuses(old)["files"] == "CRITICAL", timeout=20)
            old.signal(signal.SIGTERM)
            assert old.process.wait(timeout=15) == 0
        old_log = (workdir / "old.log").read_text()
        spooled = len(produced(volume))
        assert spooled >= 4  # 2 first results, 1 flip, the shutdown snapshot
        assert f"{spooled} report(s) not delivered to Loki at shutdown" in old_log
        spool = volume / "loki-spool"
        old_files = {path.name for path in spool.iterdir()}
        for path in [spool, *spool.iterdir(), volume / "produced.jsonl"]:
            info = path.stat()
            assert (info.st_uid, info.st_gid) == (OLD_POD.uid, FS_GROUP), path
            assert info.st_mode & GROUP_RW == GROUP_RW, (path, oct(info.st_mode))
        # A file of an older exporter, private to its uid: named, left alone, not fatal.
        private = spool / "segment-000000000900.jsonl"
        private.write_text("{}\n")
        os.chown(private, OLD_POD.uid, FS_GROUP)
        private.chmod(0o600)

        # Loki is up by its SIGTERM: the new pod must push its last reports (the shutdown
        # snapshot) in time, which may take longer than 300 ms on a loaded machine.
        write_config(workdir, volume, double, flush_timeout="10s")
        with running_exporter(config, workdir, NEW_POD, "new.log") as new:
            new_log = lambda: (workdir / "new.log").read_text()  # noqa: E731
            wait_until(lambda: f"{spooled} report(s) pending" in new_log(), timeout=20)
            (workdir / "data" / "files").write_text("x")
            wait_until(lambda: statuses(new)["files"] == "OK", timeout=20)
            assert not double.stored(), "Loki was down all along"
            double.up()
            wait_until(
                lambda: new.metrics()["site_status_reports_queued", ()] == 0,
                timeout=20,
                interval=0.1,
            )
            new.signal(signal.SIGTERM)
            assert new.process.wait(timeout=15) == 0
    finally:
        double.close()

    lines = produced(volume)
    assert len(lines) > spooled  # the new pod appended to the old pod's file
    delivered = Counter(entry.line for entry in double.stored())
    assert delivered == Counter(lines), "every report once, nothing else"
    assert not double.duplicates
    text = new_log()
    assert "Traceback" not in text
    problems = [line for line in text.splitlines() if "segment-000000000900" in line]
    assert len(problems) == 1, text
    assert "cannot read segment-000000000900.jsonl (Permission denied)" in problems[0]
    assert "could not write" not in text and "unusable" not in text, text
    # The old pod's delivered segments are gone; the private file is left where it was.
    remaining = {path.name for path in spool.iterdir()}
    assert not (old_files - {"committed.json"}) & remaining
    assert private.name in remaining
