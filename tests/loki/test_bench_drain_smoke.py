"""A short run of bench/bench_loki_drain.py: sinks drain through the rate-limited double."""

from __future__ import annotations

from tests.test_bench_smoke import REPO, json_figures, script_run


def test_a_small_fleet_drains_after_an_outage_storing_every_report_once() -> None:
    done = script_run(
        REPO / "bench" / "bench_loki_drain.py",
        *("--sites", "10", "--hours", "1", "--outage", "1", "--max-backoff", "2s", "--json"),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json_figures(done.stdout)
    assert figures["pending_after"] == 0
    assert figures["stored"] == figures["reports"] == figures["pushed"] > 0
    assert figures["duplicates"] == 0 and figures["dropped"] == 0
