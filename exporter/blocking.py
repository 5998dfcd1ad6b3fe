"""Blocking system calls with a deadline, that never leave the event loop waiting.

``stat``/``statvfs`` on a hard-mounted NFS whose server is gone sleeps in the kernel where no
signal reaches it. Each call therefore runs in its own daemon thread; at the deadline the
caller stops waiting and the resource (a mount point) is marked *stuck*. Until that thread
returns, no new call is started on the resource, so at most one thread is ever stuck on it.
Calls on one resource are serialized for the same reason. Daemon threads do not hold up
interpreter exit, and no ``concurrent.futures`` pool is used (its exit hook joins threads).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

from exporter.units import format_duration

T = TypeVar("T")

#: Cap on the mount points remembered for ``site_status_mount_stuck`` after they recover.
MAX_REMEMBERED_RESOURCES = 256


class ResourceStuck(Exception):
    """A resource has an earlier call that never returned; no new call was started."""

    def __init__(self, resource: str, since: float) -> None:
        self.resource = resource
        self.since = since
        super().__init__(
            f"{resource} is stuck: an earlier call has not returned for {self.stuck_for()}"
        )

    def stuck_for(self) -> str:
        """How long the earlier call has been waiting: ``45s``, ``3m``."""
        return format_duration(max(0.0, time.time() - self.since))


class BlockingTimeout(Exception):
    """The call did not return in time; its thread is abandoned and the resource stuck."""

    def __init__(self, resource: str | None, timeout: float) -> None:
        self.resource = resource
        self.timeout = timeout
        where = f" on {resource}" if resource else ""
        super().__init__(f"call{where} did not return within {format_duration(timeout)}")


@dataclass
class _Call:
    finished: bool = False
    abandoned: bool = False
    value: Any = None
    error: BaseException | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


class BlockingRunner:
    """Runs blocking callables in daemon threads and tracks stuck resources."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stuck_since: dict[str, float] = {}
        self._seen_stuck: set[str] = set()
        self._abandoned = 0
        self._resource_locks: dict[str, anyio.Lock] = {}

    def stuck(self) -> dict[str, float]:
        """Resources with a call that has not returned, and since when (unix time)."""
        with self._lock:
            return dict(self._stuck_since)

    def stuck_history(self) -> dict[str, bool]:
        """Every resource seen stuck (bounded), with whether it is stuck now."""
        with self._lock:
            return {r: r in self._stuck_since for r in self._seen_stuck}

    def abandoned_threads(self) -> int:
        """Threads whose caller gave up on them and that have not returned yet."""
        with self._lock:
            return self._abandoned

    async def call(
        self, func: Callable[..., T], *args: Any, resource: str | None, timeout: float
    ) -> T:
        """``func(*args)`` in a daemon thread; raise if it takes longer than ``timeout``."""
        deadline = anyio.current_time() + max(timeout, 0.0)
        if resource is None:
            return await self._call(func, args, None, deadline, timeout)
        lock = self._resource_locks.setdefault(resource, anyio.Lock())
        self._raise_if_stuck(resource)
        acquired = False
        with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
            await lock.acquire()
            acquired = True
        if not acquired:  # the call ahead of us took all our time
            self._raise_if_stuck(resource)
            raise BlockingTimeout(resource, timeout)
        try:
            self._raise_if_stuck(resource)
            return await self._call(func, args, resource, deadline, timeout)
        finally:
            lock.release()

    def _raise_if_stuck(self, resource: str) -> None:
        with self._lock:
            since = self._stuck_since.get(resource)
        if since is not None:
            raise ResourceStuck(resource, since)

    async def _call(
        self,
        func: Callable[..., T],
        args: tuple[Any, ...],
        resource: str | None,
        deadline: float,
        timeout: float,
    ) -> T:
        call = _Call()
        token = anyio.lowlevel.current_token()

        def work() -> None:
            try:
                call.value = func(*args)
            except BaseException as error:  # handed to the caller, not swallowed
                call.error = error
            with self._lock:
                call.finished = True
                if call.abandoned:
                    self._abandoned -= 1
                    if resource is not None:
                        self._stuck_since.pop(resource, None)
                    return
            # If the event loop is gone (shutdown), nobody waits any more.
            with contextlib.suppress(Exception):
                anyio.from_thread.run_sync(call.done.set, token=token)

        name = f"site-status blocking call on {resource}" if resource else "site-status call"
        threading.Thread(target=work, name=name, daemon=True).start()
        try:
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                await call.done.wait()
        finally:
            with self._lock:
                if not call.finished:
                    self._abandon(call, resource)
        if call.abandoned:
            raise BlockingTimeout(resource, timeout)
        if call.error is not None:
            raise call.error
        return call.value  # type: ignore[no-any-return]

    def _abandon(self, call: _Call, resource: str | None) -> None:
        """Called with the lock held, for a call whose thread is still running."""
        call.abandoned = True
        self._abandoned += 1
        if resource is not None:
            self._stuck_since[resource] = time.time()
            if len(self._seen_stuck) < MAX_REMEMBERED_RESOURCES:
                self._seen_stuck.add(resource)
