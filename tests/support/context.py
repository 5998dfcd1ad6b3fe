"""A real runner context for calling a probe kind directly in a test."""

from __future__ import annotations

from exporter.blocking import BlockingRunner
from exporter.context import HostRoots, MountTableCache, RunContext


def make_context(
    timeout: float = 5.0,
    *,
    proc_root: str = "/proc",
    sys_root: str = "/sys",
    blocking: BlockingRunner | None = None,
) -> RunContext:
    """Call from inside the event loop: the run's deadline starts now."""
    roots = HostRoots(proc=proc_root, sys=sys_root)
    return RunContext(timeout, blocking or BlockingRunner(), MountTableCache(roots))
