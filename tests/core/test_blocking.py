from __future__ import annotations

import threading
import time

import anyio
import pytest

from exporter.blocking import BlockingRunner, BlockingTimeout, ResourceStuck
from tests.support.timing import LOADED


async def test_returns_the_value_and_raises_the_error() -> None:
    runner = BlockingRunner()
    assert await runner.call(sum, [1, 2, 3], resource="/", timeout=5) == 6
    with pytest.raises(ZeroDivisionError):
        await runner.call(lambda: 1 / 0, resource="/", timeout=5)
    assert runner.abandoned_threads() == 0


async def test_a_hung_call_is_abandoned_and_the_resource_gets_no_second_thread() -> None:
    runner = BlockingRunner()
    release = threading.Event()
    calls = []

    def hang() -> str:
        calls.append(threading.current_thread().name)
        release.wait()
        return "late"

    started = time.monotonic()
    with pytest.raises(BlockingTimeout, match=r"did not return within 0\.2s"):
        await runner.call(hang, resource="/mnt/nfs", timeout=0.2)
    assert time.monotonic() - started < 0.2 + LOADED
    assert set(runner.stuck()) == {"/mnt/nfs"}
    assert runner.abandoned_threads() == 1
    for _ in range(3):
        with pytest.raises(ResourceStuck, match="/mnt/nfs is stuck"):
            await runner.call(hang, resource="/mnt/nfs", timeout=0.2)
    assert len(calls) == 1
    # Other resources are not affected.
    assert await runner.call(len, "abc", resource="/", timeout=5) == 3
    release.set()
    for _ in range(50):
        if not runner.stuck():
            break
        await anyio.sleep(0.02)
    assert runner.stuck() == {}
    assert runner.abandoned_threads() == 0
    assert runner.stuck_history() == {"/mnt/nfs": False}
    assert await runner.call(len, "ab", resource="/mnt/nfs", timeout=5) == 2


async def test_waiters_behind_a_call_that_hangs_get_stuck_not_a_thread() -> None:
    runner = BlockingRunner()
    release = threading.Event()
    threads: list[str] = []

    def hang() -> None:
        threads.append("x")
        release.wait()

    async def caller(results: list[str]) -> None:
        try:
            await runner.call(hang, resource="/mnt/a", timeout=0.3)
        except (BlockingTimeout, ResourceStuck) as error:
            results.append(type(error).__name__)

    results: list[str] = []
    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(caller, results)
    assert len(threads) == 1
    assert sorted(results) == ["BlockingTimeout"] + ["ResourceStuck"] * 4
    release.set()


async def test_cancellation_abandons_the_call() -> None:
    runner = BlockingRunner()
    release = threading.Event()
    with anyio.move_on_after(0.1):
        await runner.call(release.wait, resource="/mnt/b", timeout=10)
    assert "/mnt/b" in runner.stuck()
    release.set()
