"""Smoke tests of the benchmark scripts: short runs against node_exporter and blackbox_exporter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "bench_exporter.py"
PROBES = 50


def script_run(script: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """A benchmark script's run; the repo goes on PYTHONPATH (they import ``bench.*``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
        check=False,
    )


def bench_run(*args: str) -> subprocess.CompletedProcess[str]:
    return script_run(SCRIPT, *args, timeout=60)


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


HTTP_SCRIPT = REPO / "bench" / "bench_http.py"
HTTP_PROBES = 20


def test_short_http_benchmark_reports_figures_for_both_exporters() -> None:
    done = script_run(
        HTTP_SCRIPT, "--probes", str(HTTP_PROBES), "--duration", "8", "--interval", "2", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert "blackbox_exporter" in done.stdout
    assert "targets" in done.stdout
    figures = json_figures(done.stdout)
    site, blackbox = figures["site_status"], figures["blackbox_exporter"]
    for exporter in (site, blackbox):
        assert exporter["requests"] > 0
        assert exporter["median_ms"] > 0
        assert exporter["p99_ms"] >= exporter["median_ms"]
        assert exporter["rss_mib"] > 0
        assert exporter["cpu_window_seconds"] > 0
        assert exporter["probes_in_window"] >= HTTP_PROBES
        assert exporter["failed_in_window"] == 0
        assert exporter["cpu_per_probe_ms"] > 0
    assert len(figures["targets"]) == 2
    assert all(target["passed"] in (True, False) for target in figures["targets"])
    assert figures["options"]["probes"] == HTTP_PROBES


DRUPAL_SCRIPT = REPO / "bench" / "bench_drupal.py"


def test_short_drupal_benchmark_reports_starts_concurrency_and_latency() -> None:
    done = script_run(
        DRUPAL_SCRIPT,
        *("--probes", "6", "--minutes", "0.25", "--interval", "4s"),
        *("--cpu-seconds", "0.1", "--scrape-interval", "0.5", "--json"),
    )
    assert done.returncode == 0, done.stderr
    assert "drush starts per minute" in done.stdout
    figures = json_figures(done.stdout)["figures"]
    # 6 probes every 4 s for 15 s, plus one drush status each: a few dozen starts.
    assert 15 <= sum(figures["starts_per_minute"]) <= 40
    assert figures["runs_finished"] >= 15
    assert 1 <= figures["peak_concurrent_drush"] <= 8
    assert figures["scrapes"] >= 20
    assert figures["metrics_p99_ms"] >= figures["metrics_median_ms"] > 0
    assert sum(figures["results_by_status"].values()) == 6
    assert figures["probes_without_result"] == 0
    assert figures["results_timed_out"] == 0


LOKI_SCRIPT = REPO / "bench" / "bench_loki.py"


def test_short_loki_benchmark_reports_its_figures() -> None:
    done = script_run(LOKI_SCRIPT, "--reports", "300", "--single", "3", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "reports/s" in done.stdout and "load average" in done.stdout
    figures = json_figures(done.stdout)
    drain = figures["drain"]
    assert drain["reports"] == 300
    assert drain["reports_per_second"] > 0
    assert 0 < drain["body_bytes_per_report"] < drain["line_bytes_per_report"], "gzip shrinks"
    for lone in (figures["lone_transition"], figures["lone_snapshot_10_probes"]):
        assert 0 < lone["body_bytes"] < lone["line_bytes"]
        assert lone["header_bytes"] > 0
    day = figures["per_day_10_probes"]
    assert day["snapshots"] == 288
    assert day["wire_bytes"] > day["body_bytes"] > 0
    assert len(figures["loadavg"]) == 3


PSS_SCRIPT = REPO / "bench" / "bench_pss.py"


def test_short_pss_benchmark_reports_the_memory_of_a_working_drupal_site_exporter() -> None:
    done = script_run(PSS_SCRIPT, "--duration", "8", "--json", timeout=90)
    assert done.returncode == 0, done.stderr
    assert "PSS" in done.stdout and "Drupal profile" in done.stdout
    figures = json_figures(done.stdout)
    # The fleet's Drupal-site probes, each run and OK (drupal through the drush stand-in); the
    # load probe may warn on this shared machine, but has run (not UNKNOWN).
    statuses = figures["probe_status"]
    assert statuses.pop("load") in (0, 1)
    assert statuses == dict.fromkeys(("healthz", "cron", "data-disk", "root-mount", "drupal"), 0)
    assert 0 < figures["private_dirty_mib"] <= figures["private_mib"] <= figures["rss_mib"]
    assert 0 < figures["pss_mib"] <= figures["rss_mib"]
    heap = figures["pss_by_mapping_mib"]["anonymous (heap, stacks)"]
    assert 0 < heap < figures["pss_mib"]
