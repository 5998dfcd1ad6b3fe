"""The status page lists the site's recent transitions with how long each held, and follows new
ones while it stays open, in Debian's headless Chromium, served by a real ``site-status run``
whose file probe flaps. The file's name is markup with a bidi override and a tab, so the
probe's summary is hostile text: it must be shown, never obeyed, by the server's rendering and
by the script's alike. One exporter for the module: the second test builds on the first's flaps."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver import Chrome as WebDriver

from tests.integration.test_status_page import policy_errors
from tests.support.browser import chromium
from tests.support.exporter_process import RunningExporter, running_exporter, wait_until

HOSTILE_NAME = "<img src=x onerror=alert(1)>\u202e\tok"
#: How the page shows it: markup as text, the override and the tab as escapes.
HOSTILE_SHOWN = "<img src=x onerror=alert(1)>\\u202e\\tok"
HELD = re.compile(r'<span class="held">[^<]*</span>')


@pytest.fixture(scope="module")
def flapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningExporter, Path]]:
    """A site whose one probe flapped three times: OK, then CRITICAL and back, thrice."""
    workdir = tmp_path_factory.mktemp("flappy")
    marker = workdir / HOSTILE_NAME
    config = workdir / "site.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: flappy, environment: prod, tier: priprod, profile: os2web}}
            reports: {{file: {workdir}/reports.jsonl}}
            # The history is asserted change by change: one run that timed out on a loaded
            # machine (UNKNOWN) would be a change too. 5 s (a timeout is capped by the interval).
            defaults: {{interval: 5s, timeout: 5s, jitter: 0s}}
            probes:
              - {{name: marker, kind: file, path: {json.dumps(str(marker))}}}
            """
        )
    )
    marker.write_text("ok")
    with running_exporter(config, workdir) as running:
        wait_until(lambda: running.probe("marker")["status"] == "OK", timeout=20)
        for _ in range(3):
            marker.unlink()
            wait_until(lambda: running.probe("marker")["status"] == "CRITICAL", timeout=20)
            marker.write_text("ok")
            wait_until(lambda: running.probe("marker")["status"] == "OK", timeout=20)
        yield running, marker


def history(browser: WebDriver) -> dict[str, Any]:
    """The history as the DOM has it now, read in one script (a redraw cannot come between)."""
    shown: dict[str, Any] = browser.execute_script(
        """return {
            rows: Array.from(document.querySelectorAll("#history li"), li => ({
                subject: li.dataset.subject, status: li.querySelector(".badge").textContent,
                at: li.querySelector("time").getAttribute("datetime"),
                held: li.querySelector(".held").textContent,
                why: (li.querySelector(".why") || {}).textContent, html: li.outerHTML})),
            summary: document.getElementById("history-summary").textContent,
            note: document.getElementById("history-note").textContent,
            images: document.querySelectorAll("img").length}"""
    )
    return shown


def test_a_flapping_probe_shows_its_flaps_newest_first(
    flapped: tuple[RunningExporter, Path],
) -> None:
    running, _ = flapped
    with chromium() as browser:

        def loaded() -> dict[str, Any]:
            browser.get(running.url + "/")
            return history(browser)

        # The page is rendered at most once a second: wait for the last change to show.
        wait_until(lambda: len([r for r in loaded()["rows"] if r["subject"] == "marker"]) == 7, 30)
        shown = history(browser)
        rows = shown["rows"]
        marker_rows = [r for r in rows if r["subject"] == "marker"]
        # OK at start, then three times CRITICAL and back, newest first.
        assert [r["status"] for r in marker_rows] == ["OK", "CRITICAL"] * 3 + ["OK"]
        site_rows = [r for r in rows if r["subject"] == "site"]
        assert [r["status"] for r in site_rows] == ["OK", "CRITICAL"] * 3 + ["OK"]
        times = [datetime.fromisoformat(r["at"]) for r in rows]
        assert times == sorted(times, reverse=True)
        # The newest holds "so far"; every earlier one says how long it held.
        assert marker_rows[0]["held"].endswith("so far")
        assert all(r["held"].startswith("for ") for r in marker_rows[1:])
        # At a glance: three flaps since the exporter started.
        assert re.fullmatch(
            r"6 changes of the site's status since \d\d:\d\d:\d\d UTC, 3 times to CRITICAL; "
            r"most changes: marker \(6\)",
            shown["summary"],
        ), shown["summary"]
        # The hostile file name is text: no element made of it, the override and tab visible.
        assert shown["images"] == 0
        for row in marker_rows[1::2]:
            assert row["why"].endswith(f"{HOSTILE_SHOWN} is missing"), row["why"]
        assert policy_errors(browser) == []


def test_a_new_transition_shows_without_a_reload(flapped: tuple[RunningExporter, Path]) -> None:
    running, marker = flapped
    with chromium() as browser:
        browser.get(running.url + "/")
        drawn_by_server = history(browser)
        browser.execute_script("window.sameDocument = true")
        marker.unlink()
        # The probe's next run (every 5 s), then the script's next redraw from /status (every
        # 5 s) brings the new transition.
        wait_until(lambda: history(browser)["rows"][0]["status"] == "CRITICAL", timeout=30)
        assert browser.execute_script("return window.sameDocument === true")  # no reload
        drawn_by_script = history(browser)
        rows = drawn_by_script["rows"]
        assert [(r["subject"], r["status"]) for r in rows[:2]] == [
            ("site", "CRITICAL"),
            ("marker", "CRITICAL"),
        ]
        assert rows[1]["why"].endswith(f"{HOSTILE_SHOWN} is missing")
        assert rows[0]["held"].endswith("so far")
        # Below them, the rows the server drew, drawn again by the script to the same markup;
        # the ones that held "so far" have ended.
        assert [HELD.sub("", r["html"]) for r in rows[2:]] == [
            HELD.sub("", r["html"]) for r in drawn_by_server["rows"]
        ]
        assert [r["held"][:4] for r in rows[2:4]] == ["for ", "for "]
        assert drawn_by_script["summary"].startswith("7 changes of the site's status since ")
        assert drawn_by_script["summary"].endswith(
            ", 4 times to CRITICAL; most changes: marker (7)"
        )
        assert drawn_by_script["note"].startswith(f"The last {len(rows)} (at most 50), ")
        assert drawn_by_script["images"] == 0
        assert policy_errors(browser) == []
