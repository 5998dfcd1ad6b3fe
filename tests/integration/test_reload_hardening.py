"""A real ``site-status run`` given bad configs on SIGHUP: it keeps the last good config, says
why (in the log; only the count and first path on /healthz), keeps answering, and still stops
promptly on SIGTERM, even while a reload waits on a hung mount."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

from tests.support.exporter_process import RunningExporter, running_exporter, wait_until
from tests.support.fuse_mounts import FuseMounts
from tests.support.timing import LOADED

#: 9 levels of 9 aliases: 387 million strings once expanded (the YAML "billion laughs").
ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{this}: &{this} [{', '.join(['*' + previous] * 9)}]"
            for previous, this in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)
HASH = "$6$Zy0pLp6dWmQ2s1uB$1bDk0eFz7Rx7Q3tI0v1Xc0u7r5p3X8yLrR5fS9lDqZbqW9YtXh2nE2k4Yg3Zl6O1s"
SHADOW = f"root:{HASH}:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n"


def good_config(tmp_path: Path) -> str:
    present = tmp_path / "present"
    present.write_text("x")
    return textwrap.dedent(f"""
        site: {{name: reload-site}}
        reports: {{file: {tmp_path}/reports.jsonl}}
        # 5 s (a timeout is capped by the interval): "present" stays OK on a loaded machine.
        defaults: {{interval: 5s, timeout: 5s}}
        probes:
          - {{name: present, kind: file, path: {present}}}
    """)


def reload_output(exporter: RunningExporter) -> str:
    health = json.loads(exporter.get("/healthz")[1])
    return str(health["checks"]["config:reload"][0]["output"])


def reload_and_wait_for(exporter: RunningExporter, logged: str) -> float:
    """SIGHUP, wait until the log says ``logged``; the slowest /metrics answer meanwhile."""
    before = exporter.log_text().count(logged)
    exporter.signal(signal.SIGHUP)
    slowest = 0.0
    deadline = time.monotonic() + 30
    while exporter.log_text().count(logged) == before:
        assert time.monotonic() < deadline, f"no {logged!r} in:\n{exporter.log_text()}"
        started = time.monotonic()
        assert exporter.get("/metrics", timeout=5)[0] == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.05)
    return slowest


def assert_stops_promptly(exporter: RunningExporter) -> None:
    exporter.signal(signal.SIGTERM)
    started = time.monotonic()
    assert exporter.process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5


def test_bad_configs_on_sighup_keep_the_last_good_one(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(good_config(tmp_path))
    with running_exporter(config, tmp_path) as exporter:
        wait_until(lambda: exporter.probe("present")["status"] == "OK", timeout=20)

        config.unlink()
        os.mkfifo(config)  # before: the reload blocked the event loop and SIGTERM for ever
        reload_and_wait_for(exporter, "not a regular file (a FIFO)")
        assert reload_output(exporter) == "1 error(s) in the config, the first at <config>"

        config.unlink()
        config.write_text(ALIAS_BOMB)  # before: minutes of CPU, GiBs, every probe stale
        slowest = reload_and_wait_for(exporter, "aliases expand to more than")
        # A second at most (more on a loaded machine), not the minutes expanding it took.
        assert slowest < 1.0 + LOADED, slowest

        config.write_bytes("site: {name: Tromsø}\n".encode("latin-1"))  # before: the process died
        reload_and_wait_for(exporter, "not UTF-8 text")
        assert reload_output(exporter) == "1 error(s) in the config, the first at <config> (line 1)"

        config.write_text(SHADOW)  # before: every line on stderr and on /healthz
        reload_and_wait_for(exporter, "<key of ")
        assert reload_output(exporter) == (
            f"2 error(s) in the config, the first at <key of {len(HASH) + 23} characters> (line 1)"
        )
        _, health = exporter.get("/healthz")
        assert b"Zy0pLp6dWmQ2s1uB" not in health
        assert "Zy0pLp6dWmQ2s1uB" not in exporter.log_text()

        wait_until(  # /metrics is rendered ahead: a second old, more on a loaded machine
            lambda: exporter.metrics()["site_status_config_last_reload_successful", ()] == 0, 10
        )
        assert exporter.probe("present")["status"] == "OK"  # the last good config runs on
        config.write_text(good_config(tmp_path))
        reload_and_wait_for(exporter, "config reloaded")
        wait_until(
            lambda: exporter.metrics()["site_status_config_last_reload_successful", ()] == 1, 10
        )
        assert_stops_promptly(exporter)


def test_sigterm_while_a_reload_waits_on_a_hung_mount(
    tmp_path: Path, fuse_mount: FuseMounts
) -> None:
    hung = fuse_mount("hung")
    good = tmp_path / "good.yaml"
    good.write_text(good_config(tmp_path))
    config = tmp_path / "site.yaml"
    config.symlink_to(good)
    with running_exporter(config, tmp_path) as exporter:
        wait_until(lambda: exporter.probe("present")["status"] == "OK", timeout=20)
        config.unlink()
        config.symlink_to(Path(hung.path) / "site.yaml")  # opening it never returns
        exporter.signal(signal.SIGHUP)
        # The reload's thread is stuck in the kernel, not merely about to be.
        wait_until(lambda: exporter.threads_waiting_on_fuse() >= 1, timeout=10)
        started = time.monotonic()
        assert exporter.get("/metrics", timeout=5)[0] == 200
        assert exporter.probe("present")["status"] == "OK"
        # A second at most (more on a loaded machine); an event loop waiting on the reload
        # would wait for its 10 s deadline.
        assert time.monotonic() - started < 1.0 + LOADED
        # SIGTERM stops it within 2 s (more on a loaded machine), though the reload's thread is
        # still stuck in the kernel: waiting on that thread would be for ever.
        assert exporter.stop_serving(timeout=2.0 + LOADED) < 2.0 + LOADED
        hung.abort()  # the kernel releases the last thread once the connection is aborted
        assert exporter.process.wait(timeout=15) == 0
