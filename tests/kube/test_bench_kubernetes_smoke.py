"""Smoke test of bench/bench_kubernetes.py: a short run reports both RSS figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_short_kubernetes_memory_benchmark() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "bench_kubernetes.py"),
            "--probes",
            "20",
            "--services",
            "3",
            "--duration",
            "4",
            "--interval",
            "2s",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["services"] == 3
    assert figures["file_only_rss_mib"] > 10
    assert figures["kubernetes_rss_mib"] > 10
    assert figures["watch_requests"] >= 2  # services and ingresses
    assert "difference" in done.stdout
