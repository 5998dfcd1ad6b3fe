"""``history`` in /status and on the status page: the same transitions, bounded, with the
summary a person reads at a glance; hostile probe text shown, never obeyed.
The browser's view: tests/integration/test_status_page_history.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from exporter.config import Site
from exporter.history import History
from exporter.probe_api import Result
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from exporter.web.page import render_page
from exporter.web.status_doc import StatusSnapshot, parse_query
from tests.core.test_store import NOW, record, store_with

SHOP = Site(name="shop", environment="prod", tier="priprod", profile="os2web")
#: 1970-01-12 13:46:40 UTC.
CLOCK = "13:46:40"


def flapped(statuses: list[Status], limit: int = 50) -> tuple[ResultStore, History]:
    """``web`` through ``statuses`` a minute apart, ``db`` OK throughout."""
    store = store_with(ProbeSpec("web", "http", 60.0), ProbeSpec("db", "tcp", 60.0))
    history = History(limit=limit, started=NOW)
    for n, status in enumerate(statuses):
        at = NOW + 60 * n
        record(store, "web", status, at)
        record(store, "db", Status.OK, at)
        history.observe(store.views(at), at)
    return store, history


def status_history(store: ResultStore, history: History, now: float, query: str = "") -> Any:
    snapshot = StatusSnapshot(SHOP, store.views(now), now, history)
    return json.loads(snapshot.select(parse_query(query)))["history"]


def test_status_lists_the_transitions_newest_first_with_how_long_each_held() -> None:
    store, history = flapped([Status.OK, Status.CRITICAL, Status.OK])
    document = status_history(store, history, NOW + 180)
    assert document["since"] == NOW
    assert document["limit"] == 50
    web = [c for c in document["changes"] if c["probe"] == "web"]
    assert web == [
        {
            "at": NOW + 120,
            "probe": "web",
            "status": "OK",
            "code": 0,
            "previous_status": "CRITICAL",
            "summary": "web is OK",
            "ended_at": None,
            "held_seconds": 60.0,
        },
        {
            "at": NOW + 60,
            "probe": "web",
            "status": "CRITICAL",
            "code": 2,
            "previous_status": "OK",
            "summary": "web is CRITICAL",
            "ended_at": NOW + 120,
            "held_seconds": 60.0,
        },
        {
            "at": NOW,
            "probe": "web",
            "status": "OK",
            "code": 0,
            "previous_status": None,
            "summary": "web is OK",
            "ended_at": NOW + 60,
            "held_seconds": 60.0,
        },
    ]
    site = [(c["previous_status"], c["status"]) for c in document["changes"] if not c["probe"]]
    assert site == [("CRITICAL", "OK"), ("OK", "CRITICAL"), (None, "OK")]
    assert document["text"] == (
        f"2 changes of the site's status since {CLOCK} UTC, 1 time to CRITICAL; "
        "most changes: web (2)"
    )


def test_a_filtered_answer_keeps_the_sites_transitions_and_its_probes() -> None:
    store, history = flapped([Status.OK, Status.CRITICAL])
    everything = status_history(store, history, NOW + 60)
    assert {c["probe"] for c in everything["changes"]} == {None, "web", "db"}
    db = status_history(store, history, NOW + 60, "probe=db")
    assert {c["probe"] for c in db["changes"]} == {None, "db"}
    critical = status_history(store, history, NOW + 60, "status=critical")
    assert {c["probe"] for c in critical["changes"]} == {None, "web"}
    assert db["text"] == everything["text"]  # like the site's status: about the whole site


def test_the_summary_counts_every_kind_of_trouble_and_no_change_at_all() -> None:
    store, history = flapped([Status.OK])
    assert status_history(store, history, NOW)["text"] == (
        f"No change of the site's status since {CLOCK} UTC"
    )
    statuses = [Status.OK, Status.WARNING, Status.CRITICAL, Status.OK, Status.CRITICAL]
    store, history = flapped(statuses)
    assert status_history(store, history, NOW + 86400)["text"] == (
        "4 changes of the site's status since 1970-01-12 13:46:40 UTC, 2 times to CRITICAL, "
        "1 time to WARNING; most changes: web (4)"
    )


def test_once_transitions_are_dropped_the_history_says_from_when_it_is_whole() -> None:
    store, history = flapped([Status.OK, Status.CRITICAL] * 5, limit=4)
    document = status_history(store, history, NOW + 600)
    assert len(document["changes"]) == 4
    assert document["since"] == document["changes"][-1]["at"] == NOW + 60 * 8


def test_the_page_shows_the_same_history_and_hostile_text_is_shown_not_obeyed() -> None:
    name = '<img src=x onerror="alert(1)">'
    summary = "</li><script>alert(2)</script>\u202egnp.exe\nforged line"
    store = ResultStore()
    store.configure([ProbeSpec(name, "http", 60.0)])
    history = History(started=NOW)
    for n, status in enumerate([Status.OK, Status.CRITICAL]):
        store.record(name, Result(status, summary), 0.01, finished_at=NOW + 60 * n)
        history.observe(store.views(NOW + 60 * n), NOW + 60 * n)
    page = render_page(SHOP, store.views(NOW + 90), NOW + 90, history.kept()).decode()
    section = re.findall(r'<section id="history">.*?</section>', page, re.S)
    assert len(section) == 1
    shown = section[0]
    assert "<img" not in shown and "<script" not in shown
    assert "\u202e" not in shown and "\n" not in shown
    assert "&lt;/li&gt;&lt;script&gt;alert(2)&lt;/script&gt;\\u202egnp.exe\\nforged line" in shown
    # Newest first: the probe, then the site whose summary names it; the time and how long.
    rows = re.findall(r'<li class="change s-(\w+)" data-subject="([^"]*)"><time', shown)
    probe = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert rows == [(s, subject) for s in ("critical", "ok") for subject in ("site", probe)]
    assert '<time datetime="1970-01-12T13:47:40.000Z">13:47:40</time>' in shown
    assert '<span class="held">30 s so far</span>' in shown
    assert '<span class="held">for 60 s</span>' in shown
    assert "1 change of the site&#x27;s status since 13:46:40 UTC, 1 time to CRITICAL" in shown


def test_without_transitions_the_section_is_there_for_the_script_but_hidden() -> None:
    page = render_page(SHOP, [], NOW, History(started=NOW).kept()).decode()
    assert '<section id="history" hidden>' in page
    assert '<ol class="history" id="history-list"></ol>' in page


def documented_fields() -> tuple[set[str], set[str]]:
    """The fields of ``history`` and of each change that docs/usage.md's table describes."""
    usage = (Path(__file__).resolve().parents[2] / "docs" / "usage.md").read_text()
    table = usage.split("### `history` in /status", 1)[1].split("\n\n| field |", 1)[1]
    head: set[str] = set()
    change: set[str] = set()
    for row in table.split("\n\n", 1)[0].splitlines()[2:]:
        names = re.findall(r"`([^`]+)`", row.split("|")[1])
        if names[0].startswith("changes[]."):
            change |= {name.removeprefix("changes[].") for name in names}
        else:
            head |= set(names)
    return head, change


def test_the_docs_describe_every_field_of_the_history_and_no_other() -> None:
    store, history = flapped([Status.OK, Status.CRITICAL])
    document = status_history(store, history, NOW + 60)
    head, change = documented_fields()
    assert head == document.keys() - {"changes"}
    assert change == document["changes"][0].keys()
