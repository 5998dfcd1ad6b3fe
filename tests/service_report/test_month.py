"""``site-status report`` against Debian's Prometheus backfilled with a known month.

The fleet and its events are in october.py. Every figure of the report's JSON is compared with
what this test computes from the same published minutes: each series read the way an instant
query reads it (its newest sample at most 5 minutes old), then the definitions of docs/alerts.md
applied minute by minute. Nothing here calls the report's own code but the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC as UTC_TZ
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from exporter import cli
from exporter.gate.fetch import Fetcher
from exporter.gate.prometheus import PrometheusAPI
from exporter.service_report.command import MAX_ANSWER_BYTES, RENDERERS, make_report
from exporter.service_report.model import Report
from tests.service_report.october import (
    DATA_END,
    DATA_START,
    MONTH_END,
    MONTH_START,
    fleet,
    utc,
)
from tests.support.browser import chromium
from tests.support.exporter_process import command_env
from tests.support.monitoring import Prometheus, running_prometheus
from tests.support.service_month import LOOKBACK, MINUTE, FleetSite, Published, cached_blocks

REPORT = (sys.executable, "-m", "exporter.cli", "report")
OSLO = ZoneInfo("Europe/Oslo")
UTC = ZoneInfo("UTC")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    workdir = tmp_path_factory.mktemp("october")
    october = Path(__file__).with_name("october.py")
    cached_blocks(workdir, "october", [october], fleet(), DATA_START, DATA_END, chunk=86400)
    retention = ("--storage.tsdb.retention.time=100y",)
    with running_prometheus(workdir, [], [], "127.0.0.1:9", "1h", retention) as running:
        yield running


@pytest.fixture(scope="module")
def october_oslo(prometheus: Prometheus) -> Report:
    """October in Oslo, made once in this process for the tests that read it (the others go
    through the command line)."""
    args = argparse.Namespace(
        month="2026-10", start=None, end=None, timezone="Europe/Oslo", match=()
    )
    with Fetcher(120, max_bytes=MAX_ANSWER_BYTES) as fetcher:
        return make_report(PrometheusAPI(prometheus.url, fetcher), args, datetime.now(UTC_TZ))


def report(prometheus: Prometheus, *args: str) -> subprocess.CompletedProcess[str]:
    command = [*REPORT, "--prometheus", prometheus.url]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, env=command_env()
    )


def report_json(prometheus: Prometheus, *args: str) -> dict[str, Any]:
    done = report(prometheus, *args, "--format", "json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


# The test's own reading of the samples ------------------------------------------------------


def seen(site: FleetSite, t: int, series: Callable[[Published], float | None]) -> float | None:
    """The value of one series at ``t`` as an instant query sees it: its newest sample at most
    5 minutes old (a minute where the series was not written does not count)."""
    for back in range(0, LOOKBACK + 1, MINUTE):
        published = site.minute(t - back)
        if published is not None and (value := series(published)) is not None:
            return value
    return None


def while_up(value: Callable[[Published], float | None]) -> Callable[[Published], float | None]:
    return lambda p: value(p) if p.up else None


@dataclass
class Expected:
    known: int = 0
    down: int = 0
    maintenance: int = 0
    down_outside: int = 0
    #: Minutes outside the site's service hours (its gauge seen at 0): counted in nothing.
    outside_service: int = 0
    #: Minute -> the (probe, reason, part) CRITICAL then; reason "" for a probe without one.
    incident_minutes: dict[int, set[tuple[str, str, str]]] = field(default_factory=dict)


def expected_minutes(site: FleetSite, start: int, end: int) -> Expected:
    reasons = {r for t in range(DATA_START, DATA_END, MINUTE) for r in _reasons(site, t)}
    probes = {p for t in range(DATA_START, DATA_END, MINUTE) for p, _ in _probes(site, t)}
    found = Expected()
    for t in range(start, end, MINUTE):
        up = seen(site, t, lambda p: 1.0 if p.up else 0.0)
        status = seen(site, t, while_up(lambda p: float(p.status)))
        maintenance = seen(site, t, while_up(lambda p: float(p.maintenance)))
        if seen(site, t, while_up(_service_hours)) == 0:
            found.outside_service += 1
            continue
        if up != 1.0 or status is None or status == 3:
            continue
        found.known += 1
        kept = maintenance == 1
        found.maintenance += kept
        if status != 2:
            continue
        found.down += 1
        if kept:
            continue
        found.down_outside += 1
        causes = {
            (probe, reason, part)
            for probe, reason, part in reasons
            if seen(site, t, _reason_series(probe, reason, part)) == 2
        }
        for probe in probes:
            critical = seen(site, t, _probe_series(probe))
            if critical == 2 and not any(c[0] == probe for c in causes):
                causes.add((probe, "", ""))
        found.incident_minutes[t] = causes
    return found


def _service_hours(published: Published) -> float | None:
    hours = published.service_hours
    return None if hours is None else float(hours)


def _reasons(site: FleetSite, t: int) -> tuple[tuple[str, str, str], ...]:
    published = site.minute(t)
    return published.reasons if published is not None and published.up else ()


def _probes(site: FleetSite, t: int) -> tuple[tuple[str, int], ...]:
    published = site.minute(t)
    return published.probes if published is not None and published.up else ()


def _probe_series(probe: str) -> Callable[[Published], float | None]:
    def value(p: Published) -> float | None:
        code = dict(p.probes).get(probe) if p.up else None
        return None if code is None else float(code)

    return value


def _reason_series(probe: str, reason: str, part: str) -> Callable[[Published], float | None]:
    def value(p: Published) -> float | None:
        if p.up and (probe, reason, part) in p.reasons:
            return float(dict(p.probes).get(probe, 2))
        return None

    return value


def incidents(found: Expected, start: int, end: int, zone: ZoneInfo) -> list[dict[str, Any]]:
    runs: list[list[int]] = []
    for t in sorted(found.incident_minutes):
        if runs and runs[-1][-1] + MINUTE == t:
            runs[-1].append(t)
        else:
            runs.append([t])
    listed = []
    for run in runs:
        causes = sorted({c for t in run for c in found.incident_minutes[t]})
        listed.append(
            {
                "start": datetime.fromtimestamp(run[0], zone).isoformat(),
                "end": datetime.fromtimestamp(run[-1] + MINUTE, zone).isoformat(),
                "minutes": len(run),
                "began_before_period": run[0] == start,
                "ongoing_at_end": run[-1] + MINUTE == end,
                "probes": [{"probe": p, "reason": r, "part": q} for p, r, q in causes],
            }
        )
    return listed


def ratio(good: int, counted: int) -> float | None:
    return good / counted if counted else None


def spent(bad: int, counted: int, target: float | None) -> float | None:
    return None if target is None or not counted else bad / ((1 - target) * counted)


def expected_site(site: FleetSite, start: int, end: int, zone: ZoneInfo) -> dict[str, Any]:
    found = expected_minutes(site, start, end)
    total = (end - start) // MINUTE - found.outside_service
    counted = found.known - found.maintenance
    targets = site.objectives
    budget = {
        "availability": spent(found.down, found.known, targets.get("availability")),
        "reliability": spent(found.down_outside, counted, targets.get("reliability")),
    }
    verdicts = [value <= 1 for value in budget.values() if value is not None]
    listed = incidents(found, start, end, zone)
    return {
        "labels": {"cluster": "", **site.labels},
        "availability": ratio(found.known - found.down, found.known),
        "reliability": ratio(counted - found.down_outside, counted),
        "targets": targets,
        "met": all(verdicts) if targets and verdicts else None,
        "budget_spent": budget,
        "minutes": {
            "total": total,
            "known": found.known,
            "up": found.known - found.down,
            "down": found.down,
            "down_outside_maintenance": found.down_outside,
            "maintenance": found.maintenance,
            "unknown": total - found.known,
            "outside_service_hours": found.outside_service,
        },
        "incidents": listed,
        "longest_incident": max(listed, key=lambda i: i["minutes"], default=None),
    }


def approx_site(document: dict[str, Any]) -> dict[str, Any]:
    """Ratios compared to 12 digits (the same quotients, maybe in another order)."""
    out = dict(document)
    for key in ("availability", "reliability"):
        out[key] = pytest.approx(document[key], rel=1e-12) if document[key] is not None else None
    out["budget_spent"] = {
        k: pytest.approx(v, rel=1e-12) if v is not None else None
        for k, v in document["budget_spent"].items()
    }
    return out


def by_site(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["labels"]["site"]: s for s in document["sites"]}


# The tests ----------------------------------------------------------------------------------


def check_every_site(document: dict[str, Any], start: int, end: int, zone: ZoneInfo) -> None:
    sites = fleet()
    reported = by_site(document)
    assert set(reported) == {s.labels["site"] for s in sites if _has_data(s, start, end)}
    for site in sites:
        name = site.labels["site"]
        if name in reported:
            assert reported[name] == approx_site(expected_site(site, start, end, zone)), name


def _has_data(site: FleetSite, start: int, end: int) -> bool:
    return any(site.minute(t) is not None for t in range(start, end, MINUTE))


def test_october_in_oslo_every_figure(october_oslo: Report) -> None:
    document = json.loads(RENDERERS["json"](october_oslo))
    period = document["period"]
    # 31 days and the hour summer time gave back on the 25th.
    assert (period["start"], period["end"]) == (
        "2026-10-01T00:00:00+02:00",
        "2026-11-01T00:00:00+01:00",
    )
    assert period["minutes"] == 745 * 60 == (MONTH_END - MONTH_START) // MINUTE
    check_every_site(document, MONTH_START, MONTH_END, OSLO)

    shop = by_site(document)["shop"]
    # Read by hand from october.py, as a check on the check: the month's first 20 minutes of
    # an incident that began at 23:50 on 30 September; the hour of the DST change, from 02:30
    # summer time to 02:30 winter time; 60 minutes down and 60 up inside the maintenance
    # window; 2 h not scraped, 30 min UNKNOWN, and 6 h of Prometheus' gap less the 5 minutes
    # its lookback still sees.
    first, dst = shop["incidents"][0], shop["incidents"][-1]
    assert (first["start"], first["minutes"], first["began_before_period"]) == (
        "2026-10-01T00:00:00+02:00",
        20,
        True,
    )
    assert first["probes"] == [{"probe": "web", "reason": "http_status", "part": ""}]
    assert (dst["start"], dst["end"], dst["minutes"]) == (
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        60,
    )
    assert shop["minutes"]["maintenance"] == 120
    assert shop["minutes"]["down"] == 20 + 60 + 60 + 3 * 2
    assert shop["minutes"]["unknown"] == 120 + 30 + 360 - 5
    assert shop["longest_incident"]["minutes"] == 60

    news = by_site(document)["news"]
    assert news["met"] is False and news["budget_spent"]["availability"] > 1
    assert by_site(document)["intranet"]["incidents"][-1]["ongoing_at_end"] is True
    # Office hours across the DST change: 15:00-16:00 CEST on Friday the 23rd, 08:00-08:30 CET
    # on Monday the 26th; nothing at night; 22 weekdays of 8 hours counted, and the 355 minutes
    # of Prometheus' gap (Sunday the 18th) that no lookback reaches: unknown, as nothing says
    # they are outside.
    office = by_site(document)["office"]
    assert [(i["start"], i["minutes"]) for i in office["incidents"]] == [
        ("2026-10-23T15:00:00+02:00", 60),
        ("2026-10-26T08:00:00+01:00", 30),
    ]
    assert office["minutes"]["total"] == 22 * 8 * 60 + 355
    assert office["minutes"]["outside_service_hours"] == 745 * 60 - 22 * 8 * 60 - 355
    assert office["minutes"]["down"] == 90 and office["minutes"]["unknown"] == 355
    assert any("office (prod)" in note and "service hours" in note for note in document["notes"])
    newsite = by_site(document)["newsite"]
    assert newsite["met"] is None and newsite["minutes"]["unknown"] > 20000
    assert any("newsite (test)" in note for note in document["notes"])

    tiers = {t["tier"]: t for t in document["tiers"]}
    assert [t["tier"] for t in document["tiers"]] == ["priprod", "flexprod", "besteffort"]
    assert (tiers["priprod"]["met"], tiers["priprod"]["missed"]) == (1, 1)
    # The chart's days are local days: the 25th has the DST hour's 60 minutes.
    assert tiers["priprod"]["daily_minutes_down"]["2026-10-25"] == 60
    assert tiers["priprod"]["daily_minutes_down"]["2026-10-01"] == 20
    assert len(tiers["priprod"]["daily_minutes_down"]) == 31

    recurring = {(r["probe"], r["reason"]): r for r in document["recurring"]}
    # The web timeouts of the 20th: three flaps at shop and one at news, first as recurring.
    assert (
        document["recurring"][0]["probe"] == "web"
        and document["recurring"][0]["reason"] == "timeout"
    )
    assert (recurring[("web", "timeout")]["incidents"], recurring[("web", "timeout")]["sites"]) == (
        4,
        2,
    )
    assert recurring[("db", "refused")]["incidents"] == 2


def test_a_utc_month_and_the_month_before(prometheus: Prometheus) -> None:
    """The same data cut by UTC months, and the Oslo September whose last hour has data: the
    incident across the boundary counts 10 minutes there, ongoing at its end."""
    utc_october = report_json(prometheus, "--month", "2026-10")
    assert utc_october["period"]["minutes"] == 31 * 1440
    check_every_site(utc_october, utc(10, 1, 0), utc(11, 1, 0), UTC)
    assert not any(i["began_before_period"] for i in by_site(utc_october)["shop"]["incidents"])

    september = report_json(prometheus, "--month", "2026-09", "--timezone", "Europe/Oslo")
    check_every_site(september, utc(8, 31, 22), MONTH_START, OSLO)
    last = by_site(september)["shop"]["incidents"][-1]
    assert (last["minutes"], last["ongoing_at_end"]) == (10, True)
    assert any("more than 1%" in note for note in september["notes"])


def test_match_and_from_to_as_the_gate_has_them(prometheus: Prometheus) -> None:
    args = ("--from", "2026-10-05", "--to", "2026-10-06", "--timezone", "Europe/Oslo")
    document = report_json(prometheus, *args, "--match", 'tier="priprod"')
    assert set(by_site(document)) == {"news", "shop"}
    check = expected_site(fleet()[1], utc(10, 4, 22), utc(10, 5, 22), OSLO)
    assert by_site(document)["news"] == approx_site(check)
    assert by_site(document)["news"]["minutes"]["down"] == 300


def test_markdown_csv_and_html_carry_the_figures(
    prometheus: Prometheus, october_oslo: Report, tmp_path: Path
) -> None:
    """The October report above, rendered in each format; the HTML opened in Debian's
    Chromium."""
    made = october_oslo
    markdown = RENDERERS["markdown"](made)
    assert "# Service levels: October 2026 (Europe/Oslo)" in markdown
    assert "| news | prod | 99.317 % | 99.5 % | 99.317 % | 99.5 % | **MISSED** |" in markdown
    assert "2026-10-25 02:30 CEST - 2026-10-25 02:30 CET" in markdown
    rows = RENDERERS["csv"](made).splitlines()
    assert rows[0].startswith("cluster,tier,site,environment")
    assert len(rows) == 1 + 5
    news = next(row.split(",") for row in rows if ",news," in row)
    assert news[9] == "no" and news[14] == "303"
    html = RENDERERS["html"](made)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    # Self-contained: nothing to fetch from anywhere (the source's URL is only text).
    assert "http://" not in html.replace(prometheus.url, "") and "https://" not in html
    page = tmp_path / "october.html"
    page.write_text(html)
    with chromium(width=1200, height=2600) as browser:
        browser.get(page.as_uri())
        assert browser.title == "Service levels: October 2026 (Europe/Oslo)"
        charts = browser.find_elements(By.CSS_SELECTOR, "figure svg")
        assert len(charts) == 3  # one per tier
        bars = charts[0].find_elements(By.CSS_SELECTOR, "rect")
        assert len(bars) == 31
        assert all(chart.size["width"] > 500 for chart in charts)
        missed = browser.find_elements(By.CSS_SELECTOR, "span.missed")
        assert {m.text for m in missed} >= {"MISSED"}
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        shots = os.environ.get("SITE_STATUS_SCREENSHOTS")
        if shots:  # docs/service-report.png: SITE_STATUS_SCREENSHOTS=docs pytest ... -k html
            browser.save_screenshot(str(Path(shots) / "service-report.png"))


def test_usage_and_outage_are_one_line(
    prometheus: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    """Usage errors through the command line's code in this process (an interpreter each
    cost more than the rest of the test); Prometheus down through a real process."""

    def usage(*args: str) -> str:
        with pytest.raises(SystemExit) as exited:
            code = cli.main(["report", "--prometheus", prometheus.url, *args])
            raise SystemExit(code)
        assert exited.value.code == 2
        return capsys.readouterr().err

    bad = usage("--month", "2026-13")
    assert bad.count("\n") == 1 and "YYYY-MM" in bad
    assert "has not begun" in usage("--month", "2099-01")
    assert "unknown time zone" in usage("--month", "2026-10", "--timezone", "Mars/Olympus")
    # argparse's own error: its usage lines, then the one line.
    matcher = usage("--month", "2026-10", "--match", 'tier="x"} or vector(1)')
    assert "not a label matcher list" in matcher
    down = subprocess.run(
        [*REPORT, "--prometheus", "http://127.0.0.1:9", "--month", "2026-10"],
        capture_output=True,
        text=True,
        timeout=60,
        env=command_env(),
    )
    assert down.returncode == 3 and down.stderr.count("\n") == 1 and "Traceback" not in down.stderr
