"""Running a command somewhere (a local child process, or ``pods/exec`` in a pod) with a deadline.

One interface, two implementations: ``exporter.command_runners.local`` and
``exporter.command_runners.pod_exec`` (imported lazily: only a config that uses it pays for it).
A runner never raises for what the command did (exit status, timeout, too much output): that is
in ``CommandOutput``. It raises ``CommandUnavailable`` only when the command could not be started
at all (executable missing, pod not found, exec forbidden), with a reason fit for a summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from exporter.reasons import Reason

#: Default cap on each of stdout and stderr; what is beyond it is discarded while reading.
DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class CommandSpec:
    """What to run, where, and for how long."""

    argv: tuple[str, ...]
    timeout: float
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES


@dataclass(frozen=True)
class CommandOutput:
    """What a command did. ``exit_code`` is None when it was killed at the deadline."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    duration: float
    timed_out: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False


class CommandUnavailable(Exception):
    """The command could not be started; ``str(error)`` says why in one line, ``why`` is its
    reason when a failure class of ``exporter.failure_text`` said it (a refused API server)."""

    def __init__(self, message: str, why: Reason | None = None) -> None:
        super().__init__(message)
        self.why = why


class CommandRunner(Protocol):
    async def run(self, spec: CommandSpec) -> CommandOutput:
        """Run ``spec`` to its end or its deadline; never block the event loop on the child."""
