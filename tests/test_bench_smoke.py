"""Smoke test of the benchmark script: a short run against a real node_exporter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "bench_exporter.py"
PROBES = 50


def bench_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def json_figures(stdout: str) -> dict[str, Any]:
    """The ``--json`` line: the last line of the output that is a JSON object."""
    line = next(line for line in reversed(stdout.splitlines()) if line.startswith("{"))
    document: dict[str, Any] = json.loads(line)
    return document


def test_short_benchmark_reports_figures_for_both_exporters() -> None:
    done = bench_run(
        "--probes",
        str(PROBES),
        "--duration",
        "6",
        "--interval",
        "2",
        "--scrape-interval",
        "0.5",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert "site-status" in done.stdout
    assert "node_exporter" in done.stdout
    assert "targets" in done.stdout
    figures = json_figures(done.stdout)
    site, node = figures["site_status"], figures["node_exporter"]
    for exporter in (site, node):
        assert exporter["scrapes"] > 0
        assert exporter["median_ms"] > 0
        assert exporter["p99_ms"] >= exporter["median_ms"]
        assert exporter["rss_mib"] > 0
        assert exporter["body_bytes"] > 0
    assert site["series"] > PROBES
    assert node["series"] > 0
    assert site["cpu_per_cycle_seconds"] > 0
    assert len(figures["targets"]) == 2
    assert all(target["passed"] in (True, False) for target in figures["targets"])
    assert figures["machine"]["nproc"] >= 1
