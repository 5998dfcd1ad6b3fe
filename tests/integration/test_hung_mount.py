"""The exporter process with a FUSE mount that never answers: nothing else may suffer."""

from __future__ import annotations

import statistics
import textwrap
import time
from pathlib import Path

from tests.support.exporter_process import running_exporter, wait_until
from tests.support.fuse_mounts import FuseMounts
from tests.support.timing import LOADED

#: The healthy probes' interval and timeout (a timeout is capped by the interval): a loaded
#: machine's stall of a second or two must not time them out.
INTERVAL = 2.0
#: The hung mount's, which the test measures: its FUSE server never answers.
TIMEOUT = 0.5
CYCLES = 5


def write_config(tmp_path: Path, hung: str) -> Path:
    fresh = tmp_path / "fresh.txt"
    fresh.write_text("x")
    config = tmp_path / "site-status.yaml"
    config.write_text(
        textwrap.dedent(f"""
        site: {{name: hung-site, tier: priprod}}
        reports: {{file: {tmp_path}/reports.jsonl}}
        defaults: {{interval: {INTERVAL}s, timeout: {INTERVAL}s, jitter: 0.1s}}
        probes:
          - {{name: nfs, kind: mount, mountpoints: ["{hung}"], timeout: {TIMEOUT}s}}
          - {{name: nfs-file, kind: file, path: "{hung}/hello", depends_on: [nfs]}}
          - {{name: nfs-disk, kind: disk, path: "{hung}", depends_on: [nfs]}}
          - {{name: local-file, kind: file, path: "{fresh}", max_age: 1h}}
          - {{name: load, kind: load}}
    """)
    )
    return config


def test_hung_mount_is_critical_and_harms_nothing_else(
    tmp_path: Path, fuse_mount: FuseMounts
) -> None:
    hung = fuse_mount("hung")
    with running_exporter(write_config(tmp_path, hung.path), tmp_path) as exporter:
        started = time.monotonic()
        nfs = wait_until(
            lambda: (p := exporter.probe("nfs"))["status"] == "CRITICAL" and p,
            timeout=TIMEOUT + 1 + 0.1 + LOADED + 1,
        )
        became_critical = time.monotonic() - started
        assert "hung" in nfs["summary"]
        # Within timeout + 1 s of its first run (which starts within the 0.1 s jitter), plus
        # what a loaded machine adds: far from a 10 s default timeout, or for ever.
        assert became_critical <= TIMEOUT + 1 + 0.1 + LOADED, became_critical

        # /metrics is rendered ahead of scrapes: the mount's series may come a rendering later.
        stuck = ("site_status_mount_stuck", (("mountpoint", hung.path),))
        wait_until(lambda: exporter.metrics().get(stuck) == 1, timeout=1 + LOADED)

        latencies: list[float] = []
        local_runs: set[float] = set()
        stuck_threads: list[int] = []
        cycle_end = time.monotonic() + CYCLES * INTERVAL
        while time.monotonic() < cycle_end:
            before = time.perf_counter()
            series = exporter.metrics()
            latencies.append(time.perf_counter() - before)
            # /metrics is rendered ahead once a second and may skip a run; /status is fresh.
            local_runs.add(exporter.probe("local-file")["last_run"])
            assert series["site_status_probe_status", (("kind", "mount"), ("probe", "nfs"))] == 2
            assert series[stuck] == 1
            assert series["site_status_abandoned_threads", ()] <= 1
            stuck_threads.append(exporter.threads_waiting_on_fuse())
            time.sleep(0.1)

        # /metrics kept answering fast, the healthy probe kept its schedule. A loaded machine's
        # stall delays an answer or a run now and then; waiting on the mount would delay most.
        typical, slowest = statistics.median(latencies), max(latencies)
        assert typical < 0.050 and slowest < LOADED, (typical, slowest)
        assert len(local_runs) >= CYCLES - 1, sorted(local_runs)
        gaps = [b - a for a, b in zip(sorted(local_runs), sorted(local_runs)[1:], strict=False)]
        assert statistics.median(gaps) < INTERVAL + 0.1 + 0.3, gaps
        assert max(gaps) < INTERVAL + 0.1 + LOADED, gaps
        # At most one thread was ever stuck on the mount.
        assert max(stuck_threads) == 1, stuck_threads

        status = {p["name"]: p for p in exporter.status()["probes"]}
        assert status["nfs"]["status"] == "CRITICAL"
        assert status["local-file"]["status"] == "OK"
        assert status["load"]["status"] != "UNKNOWN"
        for dependent in ("nfs-file", "nfs-disk"):
            assert status[dependent]["status"] == "UNKNOWN"
            assert status[dependent]["summary"].startswith("blocked by nfs")

        # SIGTERM stops the exporter within 2 s (plus a loaded machine's stall), though a thread
        # is still stuck in the kernel: waiting on that thread would be for ever.
        assert exporter.stop_serving(timeout=2.0 + LOADED) < 2.0 + LOADED
        # The kernel releases the last thread once the FUSE connection is aborted.
        hung.abort()
        assert exporter.process.wait(timeout=15) == 0
