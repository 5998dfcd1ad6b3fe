"""Timing in tests that may run on a loaded machine (CI: 2 cores, 2 pytest workers, and the
peers they start): what a measured duration may be late by, and waiting for state."""

from __future__ import annotations

from collections.abc import Callable

import anyio

#: What a loaded machine may add to a measured duration (a process not scheduled for a second
#: or two). A test that measures a deadline tells it from what it guards against by more: a
#: wait for a budget of at least this, a default timeout, or for ever.
LOADED = 2.0


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``condition()`` until it holds (state that other tasks or threads change)."""
    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await anyio.sleep(0.02)
