"""The status page in Debian's headless Chromium, served by a real ``site-status run``."""

from __future__ import annotations

import signal
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By

from exporter.web.page import REFRESH_SECONDS
from tests.support.browser import as_phone, chromium
from tests.support.exporter_process import RunningExporter, running_exporter, wait_until


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[RunningExporter, Path]]:
    forecast = tmp_path / "forecast.nc"
    present = tmp_path / "present"
    present.write_text("x")
    config = tmp_path / "site.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: page-site, environment: prod, tier: priprod, profile: os2web}}
            reports: {{file: {tmp_path}/reports.jsonl}}
            # 5 s timeouts (a timeout is capped by the interval): a loaded machine's stall must
            # not turn a probe UNKNOWN while the page is read.
            defaults: {{interval: 5s, timeout: 5s}}
            probes:
              - {{name: present, kind: file, path: {present}}}
              - {{name: forecast-file, kind: file, path: {forecast}}}
              - {{name: optional, kind: file, path: {tmp_path}/optional, critical: false}}
            """
        )
    )
    with running_exporter(config, tmp_path) as running:
        expected = {"present": "OK", "forecast-file": "CRITICAL", "optional": "CRITICAL"}
        wait_until(lambda: statuses(running) == expected, timeout=20)
        yield running, forecast


def statuses(running: RunningExporter) -> dict[str, str]:
    return {probe["name"]: probe["status"] for probe in running.status()["probes"]}


def probe_rows(browser: WebDriver) -> dict[str, tuple[str, str]]:
    """Each probe shown: its status word and summary, as the DOM has them now (read in one
    script, so a redraw cannot come between two reads)."""
    rows = browser.execute_script(
        """return Array.from(document.querySelectorAll("#probes > li"), li => [
            li.querySelector(".name").textContent, li.querySelector(".badge").textContent,
            li.querySelector(".summary").textContent])"""
    )
    return {name: (status, summary) for name, status, summary in rows}


def policy_errors(browser: WebDriver) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or entry["level"] == "SEVERE"
    ]


def test_the_page_shows_a_critical_probe_and_follows_a_change(
    exporter: tuple[RunningExporter, Path],
) -> None:
    running, forecast = exporter
    with chromium() as browser:
        browser.get(running.url + "/")
        assert browser.find_element(By.ID, "rollup-status").text == "CRITICAL"
        assert browser.title.startswith("CRITICAL \u00b7 page-site")
        rows = probe_rows(browser)
        status, summary = rows["forecast-file"]
        assert status == "CRITICAL"
        assert str(forecast) in summary
        assert "does not exist" in summary or "missing" in summary or "no such" in summary
        assert list(rows)[:2] == ["forecast-file", "optional"]  # worst first
        assert rows["present"][0] == "OK"
        optional = browser.find_element(By.CSS_SELECTOR, 'li[data-name="optional"]')
        assert "critical: false" in optional.text
        assert browser.find_element(By.ID, "site-tier").text == "priprod"

        forecast.write_bytes(b"CDF\x01")  # the file arrives: the probe turns OK
        started = time.monotonic()
        wait_until(lambda: probe_rows(browser)["forecast-file"][0] == "OK", timeout=30)
        # Without a reload: the script fetched /status and redrew the list.
        assert time.monotonic() - started < 3 * REFRESH_SECONDS + 5
        assert browser.find_element(By.ID, "rollup-status").text == "WARNING"  # optional
        assert browser.find_element(By.ID, "rollup").get_attribute("class") == "rollup s-warning"
        assert policy_errors(browser) == []


def test_the_page_reads_on_a_phone_in_dark_mode(
    exporter: tuple[RunningExporter, Path],
) -> None:
    running, _ = exporter
    with chromium(dark=True) as browser:
        as_phone(browser)
        browser.get(running.url + "/")
        assert browser.execute_script("return window.innerWidth") == 390
        # Nothing wider than the phone's screen: no sideways scrolling.
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
        background = browser.execute_script(
            "return getComputedStyle(document.body).backgroundColor"
        )
        assert background == "rgb(13, 17, 23)"  # the dark palette
        assert policy_errors(browser) == []


def test_the_banner_announces_the_window_and_then_the_next_one(tmp_path: Path) -> None:
    """A window that ends a few seconds after the page loads: the banner says the site is in
    maintenance and why, then (redrawn from /status) the next window with its reason."""
    now = datetime.now(UTC)
    later = (now + timedelta(days=30)).date()
    config = tmp_path / "site.yaml"

    def write_config(end: datetime) -> None:
        config.write_text(
            textwrap.dedent(
                f"""
                site:
                  name: banner-site
                  maintenance:
                    - {{start: "{(now - timedelta(hours=1)).isoformat()}", end: "{end.isoformat()}",
                        reason: database upgrade}}
                    - {{schedule: "{later} 15:00-17:00 Europe/Oslo", reason: releases}}
                reports: {{file: {tmp_path}/reports.jsonl}}
                defaults: {{interval: 5s, timeout: 5s}}
                probes:
                  - {{name: present, kind: file, path: {config}}}
                """
            )
        )

    write_config(now + timedelta(hours=1))
    with running_exporter(config, tmp_path) as running, chromium() as browser:
        # The window's end is set once both have started (a reload): their start-up on a
        # loaded machine must not use up the window before the page is loaded.
        soon = datetime.now(UTC) + timedelta(seconds=6)
        write_config(soon)
        reloads = running.log_text().count("config reloaded")
        running.signal(signal.SIGHUP)
        wait_until(lambda: running.log_text().count("config reloaded") > reloads, timeout=10)
        until = soon.strftime("%H:%M")
        next_text = f"{later:%a %d %b} 15:00-17:00 Europe/Oslo, releases"
        browser.get(running.url + "/")
        banner = browser.find_element(By.ID, "maintenance-banner")
        assert banner.is_displayed()
        assert banner.text.startswith("In maintenance: ")
        assert banner.text.endswith(f"{until} UTC, database upgrade")
        assert "now" in (banner.get_attribute("class") or "")
        wait_until(lambda: banner.text.startswith("Next maintenance"), timeout=30, interval=0.5)
        assert banner.text == f"Next maintenance: {next_text}"
        assert "now" not in (banner.get_attribute("class") or "")
        assert browser.find_element(By.ID, "site-maintenance").text == "no"
        assert policy_errors(browser) == []
        browser.save_screenshot(str(tmp_path / "banner.png"))
