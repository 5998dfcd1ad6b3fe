"""``site-status gate --url``: against real exporters on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.gate.conftest import gate, maintenance_now, running_site, start_gate
from tests.support.exporter_process import command_env, wait_until


def test_passes_when_every_site_is_ok(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop, running_site(tmp_path, "campus") as campus:
        result = gate("--url", shop.exporter.url, "--url", campus.exporter.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["GATE OK - 2 site(s) at most OK"]


def test_fails_naming_the_site_its_probe_and_why(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop, running_site(tmp_path, "campus") as campus:
        campus.fail()
        wait_until(lambda: campus.status() == "CRITICAL", timeout=20, interval=0.1)
        result = gate("--url", shop.exporter.url, "--url", campus.exporter.url)
        as_json = gate("--url", shop.exporter.url, "--url", campus.exporter.url, "--format", "json")
    assert result.returncode == 1
    first, *lines = result.stdout.splitlines()
    assert first == "GATE FAIL - 1 of 2 site(s) above OK: campus"
    assert lines == [f"campus CRITICAL - release-marker: {campus.marker} is missing"]
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1
    assert document["result"] == "fail"
    (failing,) = [site for site in document["sites"] if site["degraded"]]
    assert failing["site"] == "campus"
    assert failing["tier"] == "priprod"
    assert failing["failing_probes"][0]["name"] == "release-marker"


def test_a_warning_passes_only_when_allowed(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop:
        config = shop.exporter.status()
        assert config["status"] == "OK"
        shop.fail()
        wait_until(lambda: shop.status() == "CRITICAL", timeout=20, interval=0.1)
        result = gate("--url", shop.exporter.url, "--max-status", "warning")
    assert result.returncode == 1
    assert result.stdout.startswith("GATE FAIL - 1 of 1 site(s) above WARNING: shop")


def test_a_site_in_maintenance_is_reported_and_does_not_fail_the_gate(tmp_path: Path) -> None:
    with running_site(tmp_path, "library", maintenance=maintenance_now()) as library:
        library.fail()
        wait_until(lambda: library.status() == "CRITICAL", timeout=20, interval=0.1)
        result = gate("--url", library.exporter.url)
        strict = gate("--url", library.exporter.url, "--fail-in-maintenance")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines() == [
        "GATE OK - 1 site(s) at most OK (1 excused: library)",
        f"library CRITICAL - release-marker: {library.marker} is missing "
        "(in maintenance, not counted)",
    ]
    assert strict.returncode == 1


def test_outside_every_window_it_fails_with_the_next_window(tmp_path: Path) -> None:
    day_after_tomorrow = datetime.now(UTC) + timedelta(days=2)
    weekday = day_after_tomorrow.strftime("%a").lower()
    with running_site(tmp_path, "shop") as shop:
        result = gate("--url", shop.exporter.url, "--window", f"{weekday} 10:00-11:00 UTC")
    assert result.returncode == 1
    expected = day_after_tomorrow.strftime("%a") + " 10:00 UTC"
    assert result.stdout.strip() == f"GATE FAIL - outside deploy window (next: {expected})"


def test_inside_a_window_it_judges_the_sites(tmp_path: Path) -> None:
    today = datetime.now(UTC).strftime("%a").lower()
    with running_site(tmp_path, "shop") as shop:
        # The whole of today, in UTC (a window past midnight from 00:00 to 00:00 is refused).
        result = gate("--url", shop.exporter.url, "--window", f"{today} 00:00-23:59 UTC")
    if datetime.now(UTC).strftime("%H:%M") == "23:59":  # the one minute outside it
        return
    assert result.returncode == 0, result.stdout


def test_an_unreachable_exporter_is_unknown_unless_allowed(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop:
        url = shop.exporter.url
        reachable = gate("--url", url, "--url", "http://127.0.0.1:9", "--allow-missing")
    unreachable = gate("--url", url, "--timeout", "2s")
    assert unreachable.returncode == 3
    assert unreachable.stdout.startswith(f"GATE UNKNOWN - cannot reach {url}/status")
    assert reachable.returncode == 0, reachable.stdout
    assert "http://127.0.0.1:9 MISSING - cannot reach" in reachable.stdout


def test_usage_errors_exit_2_in_one_line() -> None:
    result = gate("--url", "http://127.0.0.1:9", "--window", "someday 10:00-11:00")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "site-status gate: error: argument --window: 'someday' is not a weekday (mon, tue, ...)"
    )
    assert gate("--watch", "soon", "--url", "http://x").returncode == 2
    assert gate().returncode == 2  # no source


def test_watch_fails_at_a_degradation_that_outlasts_the_grace(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop:
        watching = start_gate(
            "--url", shop.exporter.url, "--watch", "60s", "--grace", "2s", "--poll", "200ms"
        )
        time.sleep(1.5)
        shop.fail()
        started = time.monotonic()
        out, err = watching.communicate(timeout=60)
        took = time.monotonic() - started
    assert watching.returncode == 1, out + err
    first, *lines = out.splitlines()
    assert first.startswith("GATE FAIL - degraded after ")
    assert first.endswith("(grace 2s): shop")
    assert lines == [f"shop CRITICAL - release-marker: {shop.marker} is missing"]
    # It failed on the degradation (2 s grace plus a probe interval and polls), not at the end.
    assert took < 30
    # Piped, progress comes as plain lines on stderr.
    assert "watching " in err
    assert "\r" not in err


def test_a_flap_shorter_than_the_grace_does_not_fail_the_watch(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop:
        watching = start_gate(
            "--url", shop.exporter.url, "--watch", "8s", "--grace", "6s", "--poll", "200ms"
        )
        # The flap starts once the gate reads (its first progress line): on a busy machine
        # starting the gate alone can take longer than the whole flap.
        assert watching.stderr is not None
        first = watching.stderr.readline()
        shop.fail()
        wait_until(lambda: shop.status() == "CRITICAL", timeout=20, interval=0.05)
        shop.heal()
        wait_until(lambda: shop.status() == "OK", timeout=20, interval=0.05)
        out, err = watching.communicate(timeout=60)
        err = first + err
    assert watching.returncode == 0, out + err
    assert out.splitlines() == ["GATE OK - held for 8s: 1 site(s) at most OK"]
    assert "(degraded: shop)" in err


def test_on_a_terminal_progress_is_one_updating_line(tmp_path: Path) -> None:
    with running_site(tmp_path, "shop") as shop:
        controller, terminal = pty.openpty()
        watching = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter.cli",
                "gate",
                "--url",
                shop.exporter.url,
                "--watch",
                "2s",
                "--poll",
                "200ms",
            ],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            env=command_env(),
        )
        os.close(terminal)
        out, _ = watching.communicate(timeout=60)
        seen = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(controller, 4096):
                seen += chunk
        os.close(controller)
    assert watching.returncode == 0, out
    progress = seen.decode()
    assert progress.count("\r\x1b[K") >= 3
    assert "1/1 sites OK" in progress
    assert progress.endswith("\n") or progress.endswith("\r\n")
