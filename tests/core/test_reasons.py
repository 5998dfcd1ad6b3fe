"""Every non-OK probe says why in a bounded word: runner, store, /metrics, /status, reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import jsonschema
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.probe_api import Result
from exporter.reasons import MAX_PART_CHARS, Reason, bounded_part
from exporter.registry import default_registry
from exporter.reports.schema import snapshot_report, transition_report
from exporter.run_stats import ExporterHealth, RunStats
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from exporter.web.metrics import Exposition
from exporter.web.status_doc import view_document
from tests.core.test_scheduler import config, runner
from tests.support.metrics_oracle import rows
from tests.support.reports import load_schema

REPO = Path(__file__).resolve().parents[2]
SITE = Site(name="shop", environment="prod", tier="priprod", profile="os2web")


async def test_the_runner_names_timeouts_and_exceptions() -> None:
    slow = config("probes: [{name: a, kind: test, behaviour: sleep, seconds: 5}]").probe("a")
    with anyio.fail_after(2):
        result, _ = await runner().run(slow, timeout=0.1)
    assert (result.reason, result.why) == (Reason.TIMEOUT, Reason.TIMEOUT)
    broken = config("probes: [{name: a, kind: test, behaviour: raise}]").probe("a")
    result, _ = await runner().run(broken, timeout=5)
    assert result.why is Reason.ERROR
    fine = config("probes: [{name: a, kind: test}]").probe("a")
    result, _ = await runner().run(fine, timeout=5)
    assert result.status is Status.OK and result.why is None


def store_with_every_case() -> ResultStore:
    store = ResultStore()
    store.configure(
        [
            ProbeSpec("db", "http", 60),
            ProbeSpec("frontpage", "http", 60, depends_on=("db",)),
            ProbeSpec("cron-stamp", "file", 60),
            ProbeSpec("disk", "disk", 60),
            ProbeSpec("never-ran", "load", 60),
            ProbeSpec("old", "file", 10),
            ProbeSpec("plain", "tcp", 60),
        ]
    )
    component = Result(Status.CRITICAL, "503", reason=Reason.COMPONENT, part="database")
    store.record("db", component, 0.1, finished_at=1000.0)
    store.record("frontpage", Result(Status.WARNING, "slow", reason=Reason.SLOW), 0.1, 1000.0)
    store.record("cron-stamp", Result(Status.CRITICAL, "3h old", reason=Reason.AGE), 0.1, 1000.0)
    store.record("disk", Result(Status.OK, "fine"), 0.1, finished_at=1000.0)
    store.record("old", Result(Status.OK, "fine"), 0.1, finished_at=900.0)
    store.record("plain", Result(Status.WARNING, "no reason given"), 0.1, finished_at=1000.0)
    return store


def test_the_store_adds_pending_stale_and_blocked_and_falls_back_to_error() -> None:
    views = {view.name: view for view in store_with_every_case().views(now=1010.0)}
    found = {name: (view.status.name, view.reason, view.part) for name, view in views.items()}
    assert found == {
        "db": ("CRITICAL", Reason.COMPONENT, "database"),
        "frontpage": ("UNKNOWN", Reason.BLOCKED, "db"),
        "cron-stamp": ("CRITICAL", Reason.AGE, ""),
        "disk": ("OK", None, ""),
        "never-ran": ("UNKNOWN", Reason.PENDING, ""),
        "old": ("UNKNOWN", Reason.STALE, ""),
        "plain": ("WARNING", Reason.ERROR, ""),
    }


def test_flap_damping_keeps_the_reason_of_the_status_it_holds() -> None:
    store = ResultStore()
    store.configure([ProbeSpec("web", "http", 60, failure_threshold=2)])
    store.record("web", Result(Status.OK, "fine"), 0.1, finished_at=1000.0)
    store.record("web", Result(Status.CRITICAL, "refused", reason=Reason.REFUSED), 0.1, 1001.0)
    (view,) = store.views(now=1002.0)
    assert (view.status, view.reason) == (Status.OK, None)  # held OK, one failure of two
    store.record("web", Result(Status.CRITICAL, "refused", reason=Reason.REFUSED), 0.1, 1002.0)
    (view,) = store.views(now=1003.0)
    assert (view.status, view.reason) == (Status.CRITICAL, Reason.REFUSED)


def test_metrics_have_one_reason_series_per_non_ok_probe_and_the_node() -> None:
    # A scrape takes the views at the wall clock's time: results recorded now.
    store = ResultStore()
    store.configure([ProbeSpec("db", "http", 60), ProbeSpec("disk", "disk", 60)])
    store.record("db", Result(Status.CRITICAL, "503", reason=Reason.COMPONENT, part="database"), 0)
    store.record("disk", Result(Status.OK, "fine"), 0)
    exposition = Exposition(
        store,
        default_registry().families,
        lambda: SITE,
        RunStats(),
        ExporterHealth(),
        BlockingRunner(),
        lambda: "node-a",
    )
    text = exposition.render().decode()
    families = {family.name: family for family in parse_text(text)}
    reasons = [
        (sample.labels, sample.value) for sample in families["site_status_probe_reason"].samples
    ]
    assert reasons == [
        ({"probe": "db", "kind": "http", "reason": "component", "part": "database"}, 2.0)
    ]
    (node,) = families["site_status_node_info"].samples
    assert node.labels == {"node": "node-a"} and node.value == 1.0
    # The same rows for any prometheus_client registry.
    reason_rows = [row for row in rows(exposition) if row[0].name == "site_status_probe_reason"]
    assert [values for _, values, _ in reason_rows] == [("db", "http", "component", "database")]


def test_reports_and_status_carry_reason_and_part_and_match_the_schema() -> None:
    views = store_with_every_case().views(now=1010.0)
    schema = load_schema()
    db = next(view for view in views if view.name == "db")
    transition = transition_report(SITE, db, Status.OK, 1010.0)
    assert (transition["reason"], transition["part"]) == ("component", "database")
    jsonschema.validate(transition, schema)
    snapshot = snapshot_report(SITE, views, "interval", 1010.0)
    jsonschema.validate(snapshot, schema)
    by_name = {probe["name"]: probe for probe in snapshot["probes"]}
    assert (by_name["frontpage"]["reason"], by_name["frontpage"]["part"]) == ("blocked", "db")
    assert (by_name["disk"]["reason"], by_name["disk"]["part"]) == (None, None)
    assert view_document(db, now=1010.0)["reason"] == "component"
    # A reason outside the vocabulary is not a valid report.
    transition["reason"] = "database on fire"
    try:
        jsonschema.validate(transition, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepted a reason outside the vocabulary")


def test_the_vocabulary_is_the_same_in_code_schema_and_docs() -> None:
    words = [reason.value for reason in Reason]
    schema = json.dumps(load_schema()["$defs"]["reason"])
    assert all(f'"{word}"' in schema for word in words)
    assert len(re.findall(r'"[a-z_]+"', schema.split("enum")[1].split("]")[0])) == len(words)
    table = (REPO / "docs" / "reasons.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE)
    assert documented == words


@given(st.text(max_size=300))
def test_a_part_is_always_a_short_one_line_printable_label(name: str) -> None:
    part = bounded_part(name)
    assert len(part) <= MAX_PART_CHARS
    assert re.fullmatch(r"[ -~]*", part)
    assert part == part.strip()
    if re.fullmatch(r"[!-~]{1,128}", name):
        assert part == name  # names that are already fine are kept as they are
