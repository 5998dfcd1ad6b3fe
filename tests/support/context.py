"""A real runner context for calling a probe kind directly in a test."""

from __future__ import annotations

from exporter.blocking import BlockingRunner
from exporter.context import HostRoots, MountTableCache, ProbeRuntime, RunContext


def make_context(
    timeout: float = 5.0,
    *,
    proc_root: str = "/proc",
    sys_root: str = "/sys",
    blocking: BlockingRunner | None = None,
    runtime: ProbeRuntime | None = None,
) -> RunContext:
    """Call from inside the event loop: the run's deadline starts now."""
    if runtime is None:
        roots = HostRoots(proc=proc_root, sys=sys_root)
        runtime = ProbeRuntime(blocking or BlockingRunner(), MountTableCache(roots))
    return RunContext(timeout, runtime)
