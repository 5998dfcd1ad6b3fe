"""Running a command as a local child process, killed as a group at its deadline.

The child starts in its own session (so its own process group): at the deadline the whole group
gets SIGKILL, including whatever the command started. stdout and stderr are read concurrently
from non-blocking pipes; beyond the cap the bytes are read and dropped, so a chatty child never
blocks on a full pipe. The exit is awaited through a pidfd (no thread, no blocking ``wait()``);
a child that does not die within a short grace after SIGKILL (uninterruptible sleep on a hung
mount) is abandoned and reaped by a later run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from exporter.blocking import BlockingTimeout, ResourceStuck
from exporter.command_runners import CommandOutput, CommandSpec, CommandUnavailable
from exporter.failure_text import hung

#: After SIGKILL (or after the command's own exit), how long to wait for the group to die and
#: the pipes to reach their end before abandoning what is left.
CLEANUP_GRACE = 1.0
READ_CHUNK = 64 * 1024
#: Poll period for the exit where pidfds are not available (old kernels, seccomp).
POLL_INTERVAL = 0.05

Spawn = Callable[[], "subprocess.Popen[bytes]"]
#: Runs a blocking spawn somewhere safe (a worker thread with a deadline) and returns its result.
Offload = Callable[[Spawn], Awaitable["subprocess.Popen[bytes]"]]

_abandoned_lock = threading.Lock()
_abandoned: list[subprocess.Popen[bytes]] = []


def reap_abandoned() -> int:
    """Reap abandoned children that have ended since; how many are still running."""
    with _abandoned_lock:
        _abandoned[:] = [p for p in _abandoned if p.poll() is None]
        return len(_abandoned)


def _abandon(process: subprocess.Popen[bytes]) -> None:
    with _abandoned_lock:
        _abandoned.append(process)


def kill_group(pgid: int) -> None:
    """SIGKILL every process of the group; a group that is gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class _Capture:
    """One output stream, kept up to ``cap`` bytes; the rest is read and dropped."""

    cap: int
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    truncated: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)

    def add(self, data: bytes) -> None:
        room = self.cap - self.size
        if room > 0:
            kept = data[:room]
            self.chunks.append(kept)
            self.size += len(kept)
        if len(data) > room:
            self.truncated = True

    def value(self) -> bytes:
        return b"".join(self.chunks)


async def _drain(fd: int, capture: _Capture) -> None:
    try:
        while True:
            await anyio.wait_readable(fd)
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if not data:
                return
            capture.add(data)
    finally:
        capture.done.set()


async def _exited(process: subprocess.Popen[bytes], pidfd: int | None) -> None:
    """Until the child has exited (and is reaped)."""
    while process.poll() is None:
        if pidfd is not None:
            await anyio.wait_readable(pidfd)
        else:
            await anyio.sleep(POLL_INTERVAL)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _start(spec: CommandSpec) -> subprocess.Popen[bytes]:
    """Start the child in its own session, or raise CommandUnavailable with the reason."""
    env = dict(os.environ)
    env.update(spec.env)
    try:
        return subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise CommandUnavailable(_start_error(spec, error)) from None


def _start_error(spec: CommandSpec, error: OSError) -> str:
    reason = error.strerror or str(error)
    if spec.cwd is not None and error.filename == spec.cwd:
        return f"working directory {spec.cwd}: {reason}"
    return f"{spec.argv[0]}: {reason}"


class _OffloadedStart:
    """A start in a worker thread that may be given up on: the thread then kills what it made."""

    def __init__(self, spec: CommandSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.given_up = False
        self.started: subprocess.Popen[bytes] | None = None

    def __call__(self) -> subprocess.Popen[bytes]:
        process = _start(self.spec)
        with self.lock:
            if self.given_up:  # the caller is gone: nobody would ever kill or reap it
                kill_group(process.pid)
                _close_pipes(process)
                _abandon(process)
            else:
                self.started = process
        return process

    def give_up(self) -> None:
        with self.lock:
            self.given_up = True
            if self.started is not None:
                kill_group(self.started.pid)
                _close_pipes(self.started)
                _abandon(self.started)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


class LocalRunner:
    """``CommandRunner`` for a child process of the exporter.

    ``offload`` runs the start (fork, ``chdir`` into the working directory, exec) elsewhere:
    ``chdir`` into a directory on a hung mount never returns, and ``Popen`` waits for it.
    Without it the start happens on the event loop.
    """

    def __init__(self, offload: Offload | None = None) -> None:
        self.offload = offload

    async def run(self, spec: CommandSpec) -> CommandOutput:
        reap_abandoned()
        started = time.monotonic()
        process = await self._start(spec)
        pidfd = _pidfd(process.pid)
        stdout, stderr = _Capture(spec.max_output_bytes), _Capture(spec.max_output_bytes)
        timed_out = False
        try:
            assert process.stdout is not None and process.stderr is not None
            out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
            os.set_blocking(out_fd, False)
            os.set_blocking(err_fd, False)
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(_drain, out_fd, stdout)
                task_group.start_soon(_drain, err_fd, stderr)
                budget = max(0.0, spec.timeout - (time.monotonic() - started))
                with anyio.move_on_after(budget) as deadline:
                    await _exited(process, pidfd)
                timed_out = deadline.cancelled_caught
                # The timed-out command, or whatever it left running in its group.
                kill_group(process.pid)
                with anyio.move_on_after(CLEANUP_GRACE):
                    await _exited(process, pidfd)
                    await stdout.done.wait()
                    await stderr.done.wait()
                task_group.cancel_scope.cancel()  # a pipe held open outside the group
        finally:
            kill_group(process.pid)  # also when the caller is cancelled
            _close_pipes(process)
            if pidfd is not None:
                os.close(pidfd)
            if process.poll() is None:  # uninterruptible sleep: a later run reaps it
                _abandon(process)
        return CommandOutput(
            exit_code=None if timed_out else process.returncode,
            stdout=stdout.value(),
            stderr=stderr.value(),
            duration=time.monotonic() - started,
            timed_out=timed_out,
            stdout_truncated=stdout.truncated,
            stderr_truncated=stderr.truncated,
        )

    async def _start(self, spec: CommandSpec) -> subprocess.Popen[bytes]:
        if self.offload is None:
            return _start(spec)
        start = _OffloadedStart(spec)
        try:
            return await self.offload(start)
        except (BlockingTimeout, ResourceStuck) as error:
            start.give_up()
            failure = hung(error, name_resource=True)  # chdir into a root on a hung mount
            message = f"could not start {spec.argv[0]}: {failure.text}"
            raise CommandUnavailable(message, failure.reason) from None
        except BaseException:
            start.give_up()
            raise
