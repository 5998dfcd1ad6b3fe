"""A real runner context for calling a probe kind directly in a test."""

from __future__ import annotations

from exporter.blocking import BlockingRunner
from exporter.context import ProbeRuntime, RunContext


def make_context(
    timeout: float = 5.0,
    *,
    proc_root: str = "/proc",
    sys_root: str = "/sys",
    blocking: BlockingRunner | None = None,
    runtime: ProbeRuntime | None = None,
    rootfs: str = "/",
) -> RunContext:
    """Call from inside the event loop: the run's deadline starts now."""
    if runtime is None:
        runtime = ProbeRuntime.with_roots(proc_root, sys_root, blocking, rootfs)
    return RunContext(timeout, runtime)
