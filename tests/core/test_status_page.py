"""The HTML status page as served; the browser's view: tests/integration/test_status_page.py."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.request
from collections.abc import Iterator

import pytest

from exporter.probe_api import Result
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from exporter.web.page import SCRIPT, STYLE, duration_words
from tests.core.test_status_endpoint import served

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def site() -> Iterator[str]:
    store = ResultStore()
    store.configure(
        [
            ProbeSpec("frontpage", "http", 60),
            ProbeSpec("data-disk", "disk", 60),
            ProbeSpec("forecast", "file", 60, depends_on=("data-disk",)),
            ProbeSpec("backups", "file", 60, critical=False),
            ProbeSpec("never-ran", "load", 60),
        ]
    )
    store.record("frontpage", Result(Status.OK, "200 in 12 ms"), 0.012)
    store.record("data-disk", Result(Status.CRITICAL, "/data 95% used", {"mounts": 1}), 0.002)
    store.record("forecast", Result(Status.WARNING, "3h old"), 0.001)
    store.record("backups", Result(Status.CRITICAL, "<script>alert(1)</script> missing"), 0.001)
    yield from served(store)


def get(url: str, accept: str) -> tuple[dict[str, str], str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(response.headers), response.read().decode()


def test_a_browser_gets_the_page_and_other_clients_the_index(site: str) -> None:
    headers, page = get(site + "/", BROWSER_ACCEPT)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<div class="word" id="rollup-status">CRITICAL</div>' in page
    _, index = get(site + "/", "*/*")
    assert "rollup" not in index
    assert '<a href="/metrics">' in index


def test_the_page_shows_every_probe_worst_first_with_its_facts(site: str) -> None:
    _, page = get(site + "/", BROWSER_ACCEPT)
    order = re.findall(r'data-name="([^"]+)" data-status="([A-Z]+)"', page)
    assert order == [
        ("data-disk", "CRITICAL"),
        ("backups", "CRITICAL"),
        ("forecast", "UNKNOWN"),  # blocked by data-disk
        ("never-ran", "UNKNOWN"),
        ("frontpage", "OK"),
    ]
    assert "/data 95% used" in page
    assert "blocked by data-disk" in page
    assert '<span class="flag">critical: false</span>' in page
    assert "<details><summary>details</summary><pre>{\n  &quot;mounts&quot;: 1\n}</pre>" in page
    assert re.search(r"in this status</dt><dd>\d+ m?s<", page)
    assert re.search(r"last run</dt><dd>\d+ m?s ago<", page)
    assert "last run</dt><dd>never<" in page
    for link in ("/metrics", "/status", "/healthz"):
        assert f'<a href="{link}">' in page
    assert "environment</dt><dd" in page
    assert 'id="site-maintenance">no<' in page
    assert "2 CRITICAL \u00b7 2 UNKNOWN \u00b7 1 OK" in page


def test_probe_text_is_escaped(site: str) -> None:
    _, page = get(site + "/", BROWSER_ACCEPT)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; missing" in page


def test_the_page_is_self_contained_small_and_under_a_strict_policy(site: str) -> None:
    headers, page = get(site + "/", BROWSER_ACCEPT)
    policy = dict(
        part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]

    def digest(source: str) -> str:
        return (
            "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"
        )

    # The inline style and script are exactly what the policy's hashes allow.
    assert re.findall(r"<style>(.*?)</style>", page, re.S) == [STYLE]
    assert re.findall(r"<script>(.*?)</script>", page, re.S) == [SCRIPT]
    assert policy["style-src"] == digest(STYLE)
    assert policy["script-src"] == digest(SCRIPT)
    assert policy["connect-src"] == "'self'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    # Nothing loaded from anywhere: no src attribute, no URL but our own paths.
    assert " src=" not in page
    assert not re.search(r"(href|url)\(?=?[\"']?(https?:)?//", page)
    assert "prefers-color-scheme:dark" in page
    assert 'name="viewport"' in page
    assert len(page.encode()) < 32 * 1024


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(None, "\u2014"), (0.0123, "12 ms"), (42, "42 s"), (600, "10 min"), (7300, "2 h 2 min"),
     (200000, "2 d 7 h")],
)  # fmt: skip
def test_durations_in_words(seconds: float | None, words: str) -> None:
    assert duration_words(seconds) == words
