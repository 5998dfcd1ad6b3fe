from __future__ import annotations

import base64
import textwrap
from collections.abc import Callable
from typing import Literal

import anyio
import pytest
from trio.testing import MockClock

from exporter.config import SiteStatusConfig, parse_config
from exporter.context import ProbeRuntime
from exporter.probe_api import (
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Result,
    Sample,
    Status,
)
from exporter.redact import remember_secrets
from exporter.registry import KindRegistry
from exporter.run_stats import RunStats
from exporter.scheduler import BATCH_MIN_INTERVAL, ProbeRunner, Scheduler
from exporter.store import ProbeRecord, ResultStore
from tests.support.timing import LOADED, wait_for

ACTIVE = {"now": 0, "max": 0, "runs": 0}
#: When each probe's latest run started (event loop clock).
STARTS: dict[str, float] = {}


class ScriptedProbe(ProbeConfig):
    kind: Literal["test"]
    behaviour: Literal["ok", "raise", "leak", "sleep", "undeclared"] = "ok"
    seconds: float = 0.0


async def run_test_probe(config: ScriptedProbe, context: ProbeContext) -> Result:
    STARTS[config.name] = anyio.current_time()
    ACTIVE["now"] += 1
    ACTIVE["runs"] += 1
    ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
    try:
        if config.behaviour == "raise":
            raise RuntimeError("database is on fire")
        if config.behaviour == "leak":
            token = base64.b64encode(b"hunter2-token").decode()
            raise RuntimeError(
                f"GET https://app:pw-in-url@api.example/x?api_key=k3y-v4lue failed; "
                f"sent Authorization: Bearer hunter2-token ({token}); password=plain-pw"
            )
        await anyio.sleep(config.seconds)
        if config.behaviour == "undeclared":
            return Result(Status.OK, "x", {}, (Sample("site_status_nope", 1.0),))
        return Result(Status.OK, f"slept {config.seconds}", {}, (Sample(RUNS.name, 1.0),))
    finally:
        ACTIVE["now"] -= 1


RUNS = MetricFamily("site_status_test_value", "A value from the test probe.")
REGISTRY = KindRegistry([ProbeKind(ScriptedProbe, run_test_probe, (RUNS,))])


def config(text: str) -> SiteStatusConfig:
    return parse_config(textwrap.dedent(text), REGISTRY)


def runner(stats: RunStats | None = None) -> ProbeRunner:
    return ProbeRunner(REGISTRY, ProbeRuntime(), stats or RunStats())


async def test_exception_becomes_unknown_with_the_message() -> None:
    stats = RunStats()
    probe = config("probes: [{name: a, kind: test, behaviour: raise}]").probe("a")
    result, _ = await runner(stats).run(probe, timeout=5)
    assert result.status is Status.UNKNOWN
    assert result.summary == "probe error: database is on fire"
    assert stats.errors["test", "exception"] == 1
    assert stats.runs["test", "unknown"] == 1


async def test_an_exception_quoting_secrets_is_masked_in_the_summary() -> None:
    remember_secrets(["hunter2-token"])  # as the http probe does with what it read
    probe = config("probes: [{name: a, kind: test, behaviour: leak}]").probe("a")
    result, _ = await runner().run(probe, timeout=5)
    assert result.status is Status.UNKNOWN
    for secret in ("hunter2-token", "aHVudGVyMi10b2tlbg==", "pw-in-url", "k3y-v4lue", "plain-pw"):
        assert secret not in result.summary
    assert result.summary.startswith("probe error: GET https://app:***@api.example/x?api_key=***")


async def test_timeout_becomes_unknown() -> None:
    stats = RunStats()
    probe = config("probes: [{name: a, kind: test, behaviour: sleep, seconds: 30}]").probe("a")
    with anyio.fail_after(10):
        result, duration = await runner(stats).run(probe, timeout=0.2)
    assert result.status is Status.UNKNOWN
    assert result.summary == "timed out after 0.2s"
    assert 0.2 <= duration < 0.2 + LOADED
    assert stats.errors["test", "timeout"] == 1


async def test_undeclared_metric_is_a_probe_error() -> None:
    probe = config("probes: [{name: a, kind: test, behaviour: undeclared}]").probe("a")
    result, _ = await runner().run(probe, timeout=5)
    assert result.status is Status.UNKNOWN
    assert "undeclared metric 'site_status_nope'" in result.summary


async def run_scheduler_for(
    cfg: SiteStatusConfig, seconds: float, store: ResultStore | None = None
) -> ResultStore:
    store = store or ResultStore()
    scheduler = Scheduler(runner(), store)
    with anyio.move_on_after(seconds):
        await scheduler.run(cfg)
    return store


async def run_scheduler_until(
    cfg: SiteStatusConfig,
    condition: Callable[[], bool],
    store: ResultStore | None = None,
    timeout: float = 10,
) -> float:
    """Run ``cfg`` until ``condition()`` holds; the seconds that took (at least: it is polled).
    A loaded machine makes it take longer, never shorter."""
    scheduler = Scheduler(runner(), store or ResultStore())
    started = anyio.current_time()
    async with anyio.create_task_group() as group:
        group.start_soon(scheduler.run, cfg)
        await wait_for(condition, timeout)
        group.cancel_scope.cancel()
    return anyio.current_time() - started


async def test_concurrency_limit_and_interval() -> None:
    ACTIVE.update(now=0, max=0, runs=0)
    probes = "\n".join(
        f"  - {{name: p{i}, kind: test, behaviour: sleep, seconds: 0.1}}" for i in range(6)
    )
    cfg = config(
        f"exporter: {{concurrency: 2}}\ndefaults: {{interval: 0.5s, jitter: 0s}}\n"
        f"probes:\n{probes}\n"
    )
    store = ResultStore()
    seconds = await run_scheduler_until(cfg, lambda: ACTIVE["runs"] >= 18, store)
    assert ACTIVE["max"] == 2
    # 6 probes x 0.1 s, two at a time: a cycle takes 0.3 s, the next starts 0.5 s after the last
    # one did, so the 18th run (the third of the last two probes) starts at 1.2 s at the
    # earliest; without the interval it would start at 0.8 s.
    assert seconds >= 1.2 - 0.01, seconds
    # Each has a result (OK, or timed out after 0.5 s if a loaded machine stalled it).
    assert all(state.finished_at for state in store.states())


@pytest.mark.parametrize(
    ("interval", "together"), [("20s", True), (f"{BATCH_MIN_INTERVAL / 2:g}s", False)]
)
def test_probes_due_close_together_start_together_if_their_interval_is_long(
    interval: str, together: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # First runs due at 0, 0.1, 0.2 and 0.3 s (the jitter's random draw, fixed here).
    offsets = iter([0.0, 0.1, 0.2, 0.3])
    monkeypatch.setattr("exporter.scheduler.random.uniform", lambda a, b: next(offsets, 0.0))
    STARTS.clear()
    probes = "\n".join(f"  - {{name: p{i}, kind: test}}" for i in range(4))
    cfg = config(f"defaults: {{interval: {interval}, jitter: 0.3s}}\nprobes:\n{probes}\n")

    async def run() -> None:
        runtime = ProbeRuntime()
        await runtime.mount_tables.refresh_if_stale()  # no worker thread while the clock jumps
        scheduler = Scheduler(ProbeRunner(REGISTRY, runtime, RunStats()), ResultStore())
        with anyio.move_on_after(0.6):
            await scheduler.run(cfg)

    # On trio's mock clock, which jumps to the next deadline whenever every task waits: the
    # start times are the scheduler's alone, not a loaded machine's.
    clock = MockClock(autojump_threshold=0)
    anyio.run(run, backend="trio", backend_options={"clock": clock})
    assert len(STARTS) == 4
    spread = max(STARTS.values()) - min(STARTS.values())
    # Together: in the one wake-up at the first due time (the others are within BATCH_WINDOW).
    # Apart: each at its own due time, so 0.3 s from the first to the last.
    assert spread < 0.05 if together else 0.25 <= spread < 0.45


async def test_slow_runs_never_overlap() -> None:
    ACTIVE.update(now=0, max=0, runs=0)
    cfg = config("""
        defaults: {interval: 0.3s, timeout: 0.3s, jitter: 0s}
        probes: [{name: slow, kind: test, behaviour: sleep, seconds: 0.25}]
    """)
    seconds = await run_scheduler_until(cfg, lambda: ACTIVE["runs"] >= 3)
    assert ACTIVE["max"] == 1
    # Runs of 0.25 s every 0.3 s: the third starts at 0.6 s at the earliest.
    assert seconds >= 0.6 - 0.01, seconds


async def test_apply_keeps_unchanged_probes_and_stops_removed_ones() -> None:
    store = ResultStore()
    records: list[str] = []

    async def listen(before: ProbeRecord, after: ProbeRecord) -> None:
        records.append(after.spec.name)

    scheduler = Scheduler(runner(), store, listen)
    first = config("""
        defaults: {interval: 0.2s, jitter: 0s}
        probes: [{name: keep, kind: test}, {name: drop, kind: test}]
    """)
    second = config("""
        defaults: {interval: 0.2s, jitter: 0s}
        probes: [{name: keep, kind: test}, {name: new, kind: test}]
    """)
    async with anyio.create_task_group() as group:
        group.start_soon(scheduler.run, first)
        await anyio.sleep(0.5)
        kept_before = store.states()[0]
        scheduler.apply(second)
        assert store.states()[0] is kept_before  # unchanged probe keeps its result
        records.clear()
        # Two runs each (0.2 s apart): "drop" would have run meanwhile.
        await wait_for(lambda: records.count("keep") >= 2 and records.count("new") >= 2)
        group.cancel_scope.cancel()
    assert [s.spec.name for s in store.states()] == ["keep", "new"]
    assert "drop" not in records
    assert {"keep", "new"} <= set(records)


async def test_while_a_run_is_in_flight_the_last_result_is_reported_with_its_age() -> None:
    from exporter.web.status_doc import view_document

    # Runs of 0.2 s in a 1 s timeout: a loaded machine's stall does not time one out.
    cfg = config("""
        defaults: {interval: 1s, timeout: 1s, jitter: 0s}
        probes: [{name: slow, kind: test, behaviour: sleep, seconds: 0.2}]
    """)
    store = ResultStore()
    seen: list[dict[str, object]] = []

    def second_in_flight() -> list[dict[str, object]]:
        return [d for d in seen if d["running"] and d["status"] == "OK"]

    async def watch() -> None:
        while True:
            await anyio.sleep(0.05)
            seen.append(view_document(store.views()[0]))

    scheduler = Scheduler(runner(), store)
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(watch)
        task_group.start_soon(scheduler.run, cfg)
        await wait_for(second_in_flight)
        task_group.cancel_scope.cancel()
    # The second run is in flight: the first result is still reported, with its age, which
    # counts from before this run started.
    document = second_in_flight()[-1]
    assert document["summary"] == "slept 0.2"
    age, running = document["result_age_seconds"], document["running_seconds"]
    assert isinstance(age, float) and isinstance(running, float)
    assert 0 <= running < age < 1.0 + LOADED
    # Before the first result: running, no result yet; between runs: not running.
    assert seen[0]["running"] and seen[0]["summary"] == "no result yet"
    assert seen[0]["result_age_seconds"] is None
    assert any(not d["running"] and d["status"] == "OK" for d in seen)
