from __future__ import annotations

from exporter.probe_api import Result
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore, site_status

OK, WARN, CRIT, UNKNOWN = Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN
NOW = 1_000_000.0


def store_with(*specs: ProbeSpec) -> ResultStore:
    store = ResultStore()
    store.configure(specs)
    return store


def record(store: ResultStore, name: str, status: Status, at: float = NOW) -> None:
    store.record(name, Result(status, f"{name} is {status.name}"), 0.01, finished_at=at)


def view(store: ResultStore, name: str, now: float = NOW) -> tuple[Status, str]:
    found = next(v for v in store.views(now) if v.name == name)
    return found.status, found.summary


def test_no_result_yet_is_unknown() -> None:
    store = store_with(ProbeSpec("a", "load", 60))
    assert view(store, "a") == (UNKNOWN, "no result yet")


def test_failure_threshold_damps_worsening_and_shows_the_raw_result() -> None:
    store = store_with(ProbeSpec("a", "load", 60, failure_threshold=3, success_threshold=2))
    record(store, "a", OK)
    record(store, "a", CRIT)
    record(store, "a", CRIT)
    assert view(store, "a") == (OK, "a is OK")
    details = store.views(NOW)[0].details()
    assert details["raw"]["status"] == "CRITICAL"
    assert details["raw"]["streak"] == "2/3"
    record(store, "a", CRIT)
    assert view(store, "a") == (CRIT, "a is CRITICAL")
    record(store, "a", OK)
    assert view(store, "a")[0] is CRIT
    record(store, "a", OK)
    assert view(store, "a")[0] is OK


def test_an_interrupted_streak_starts_again() -> None:
    store = store_with(ProbeSpec("a", "load", 60, failure_threshold=2))
    record(store, "a", OK)
    record(store, "a", CRIT)
    record(store, "a", OK)
    record(store, "a", CRIT)
    assert view(store, "a")[0] is OK
    record(store, "a", CRIT)
    assert view(store, "a")[0] is CRIT


def test_default_thresholds_follow_every_result() -> None:
    store = store_with(ProbeSpec("a", "load", 60))
    for status in (OK, WARN, CRIT, OK):
        record(store, "a", status)
        assert view(store, "a")[0] is status


def test_result_older_than_three_intervals_is_stale() -> None:
    store = store_with(ProbeSpec("a", "load", 60))
    record(store, "a", OK, at=NOW)
    assert view(store, "a", now=NOW + 180)[0] is OK
    status, summary = view(store, "a", now=NOW + 181)
    assert status is UNKNOWN
    assert summary == "stale: last result is 3m old"


def test_dependency_blocks_dependents_transitively() -> None:
    store = store_with(
        ProbeSpec("mount", "mount", 60),
        ProbeSpec("file", "file", 60, depends_on=("mount",)),
        ProbeSpec("report", "file", 60, depends_on=("file",)),
        ProbeSpec("disk", "disk", 60, depends_on=("mount",)),
    )
    record(store, "mount", CRIT)
    record(store, "file", CRIT)
    record(store, "report", WARN)
    record(store, "disk", OK)
    assert view(store, "file") == (UNKNOWN, "blocked by mount: file is CRITICAL")
    assert view(store, "report")[0] is UNKNOWN
    assert view(store, "disk")[0] is OK
    assert site_status(store.views(NOW)) is CRIT
    record(store, "mount", OK)
    assert view(store, "file") == (CRIT, "file is CRITICAL")


def test_non_critical_probe_caps_the_rollup_at_warning() -> None:
    store = store_with(ProbeSpec("a", "load", 60, critical=False), ProbeSpec("b", "load", 60))
    record(store, "a", CRIT)
    record(store, "b", OK)
    assert view(store, "a")[0] is CRIT
    assert site_status(store.views(NOW)) is WARN


def test_reconfigure_keeps_unchanged_probes_and_drops_removed_ones() -> None:
    store = store_with(ProbeSpec("a", "load", 60), ProbeSpec("b", "load", 60))
    record(store, "a", CRIT)
    record(store, "b", CRIT)
    store.configure([ProbeSpec("a", "load", 60), ProbeSpec("b", "load", 30)])
    assert view(store, "a")[0] is CRIT
    assert view(store, "b") == (UNKNOWN, "no result yet")
    store.configure([ProbeSpec("a", "load", 60)])
    assert [v.name for v in store.views(NOW)] == ["a"]
    assert store.record("b", Result(OK, "late"), 0.1) is None


def test_a_run_in_flight_is_shown_until_its_result_is_recorded() -> None:
    store = store_with(ProbeSpec("a", "drupal", 300), ProbeSpec("b", "load", 60))
    record(store, "a", OK, at=NOW - 100)
    store.run_started("a", at=NOW - 5)
    store.run_started("gone")  # not configured: ignored
    views = {v.name: v for v in store.views(NOW)}
    assert views["a"].running_since == NOW - 5
    assert views["a"].status is OK  # the last result stays while the next one is made
    assert views["b"].running_since is None
    record(store, "a", WARN, at=NOW)
    assert store.views(NOW)[0].running_since is None
    store.run_started("a")
    store.run_ended("a")  # cancelled: no result, no longer running
    assert store.views(NOW)[0].running_since is None
