"""The status page's history: bounded, newest first, each transition with how long it held."""

from __future__ import annotations

from exporter.history import SITE, History
from exporter.status import Status
from exporter.store import ProbeSpec
from tests.core.test_store import NOW, record, store_with


def test_transitions_are_kept_newest_first_with_how_long_each_held() -> None:
    store = store_with(ProbeSpec("web", "http", 60.0), ProbeSpec("db", "tcp", 60.0))
    history = History()
    for n, status in enumerate([Status.OK, Status.CRITICAL, Status.OK, Status.OK]):
        at = NOW + 60 * n
        record(store, "web", status, at)
        record(store, "db", Status.OK, at)
        history.observe(store.views(at), at)
    changes = history.recent()
    web = [c for c in changes if c.subject == "web"]
    assert [(c.before, c.after) for c in web] == [
        (Status.CRITICAL, Status.OK),
        (Status.OK, Status.CRITICAL),
        (None, Status.OK),
    ]
    assert [c.lasted(NOW + 600) for c in web] == [600 - 120, 60, 60]
    site = [c for c in changes if c.subject == SITE]
    assert [c.after for c in site] == [Status.OK, Status.CRITICAL, Status.OK]
    assert site[1].summary == "web"  # the probes at the rollup's status
    assert next(c for c in changes if c.subject == "db").ended_at is None  # no news after


def test_the_history_is_bounded() -> None:
    store = store_with(ProbeSpec("web", "http", 60.0))
    history = History(limit=5)
    for n in range(40):
        at = NOW + 60 * n
        record(store, "web", Status.CRITICAL if n % 2 else Status.OK, at)
        history.observe(store.views(at), at)
    changes = history.recent()
    assert len(changes) == 5
    assert changes[0].at == NOW + 60 * 39
