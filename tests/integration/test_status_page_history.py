"""The status page lists the site's recent transitions with how long each held, in Debian's
headless Chromium, served by a real ``site-status run`` whose file probe flaps."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

from selenium.webdriver.common.by import By

from tests.integration.test_status_page import policy_errors
from tests.support.browser import chromium
from tests.support.exporter_process import running_exporter, wait_until


def test_a_flapping_probe_shows_its_flaps_newest_first(tmp_path: Path) -> None:
    marker = tmp_path / "release-ok"
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: flappy, environment: prod, tier: priprod, profile: os2web}}
            reports: {{file: {tmp_path}/reports.jsonl}}
            defaults: {{interval: 0.5s, timeout: 0.4s}}
            probes:
              - {{name: marker, kind: file, path: {marker}}}
            """
        )
    )
    marker.write_text("ok")
    with running_exporter(config, tmp_path) as running:
        wait_until(lambda: running.probe("marker")["status"] == "OK", timeout=20)
        for _ in range(3):  # it flaps three times
            marker.unlink()
            wait_until(lambda: running.probe("marker")["status"] == "CRITICAL", timeout=20)
            marker.write_text("ok")
            wait_until(lambda: running.probe("marker")["status"] == "OK", timeout=20)
        with chromium() as browser:

            def changes() -> list[tuple[str, str, str, str]]:
                browser.get(running.url + "/")
                rows: list[tuple[str, str, str, str]] = browser.execute_script(
                    """return Array.from(document.querySelectorAll("#history li"), li => [
                        li.dataset.subject, li.querySelector(".badge").textContent,
                        li.querySelector("time").getAttribute("datetime"),
                        li.querySelector(".held").textContent])"""
                )
                return rows

            # The page is rendered at most once a second: wait for the last change to show.
            wait_until(lambda: len([r for r in changes() if r[0] == "marker"]) == 7, timeout=10)
            rows = changes()
            marker_rows = [r for r in rows if r[0] == "marker"]
            # OK at start, then three times CRITICAL and back, newest first.
            assert [r[1] for r in marker_rows] == ["OK", "CRITICAL"] * 3 + ["OK"]
            site_rows = [r for r in rows if r[0] == "site"]
            assert [r[1] for r in site_rows] == ["OK", "CRITICAL"] * 3 + ["OK"]
            times = [datetime.fromisoformat(r[2]) for r in rows]
            assert times == sorted(times, reverse=True)
            # The newest holds "so far"; every earlier one says how long it held.
            assert marker_rows[0][3].endswith("so far")
            assert all(r[3].startswith("for ") for r in marker_rows[1:])
            heading = browser.find_element(By.CSS_SELECTOR, "#history h2").text
            assert heading == "Recent changes"
            assert policy_errors(browser) == []
