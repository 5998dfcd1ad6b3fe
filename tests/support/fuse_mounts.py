"""Real FUSE mounts for tests: healthy, stale, hung or read-only, always torn down.

``mounted_fuse(mode, directory)`` starts ``tests/support/fusefs.py`` as its own process, waits
until the mount shows in ``/proc/self/mountinfo`` (never by a ``stat``: a hung mount would hang
the test) and yields a ``FuseMount``. Teardown always runs, whatever the test did: abort the
FUSE connection (this ends every call stuck on it, even in uninterruptible sleep), unmount
lazily, kill the server and wait for it with a limit.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from exporter.mounts import parse_mountinfo

if TYPE_CHECKING:
    from collections.abc import Iterator

FUSEFS = Path(__file__).with_name("fusefs.py")
MODES = ("ok", "stale", "hung", "readonly", "denied")
FUSECTL = "/sys/fs/fuse/connections"
MOUNTINFO = "/proc/self/mountinfo"
#: How long a FUSE server may take to mount, and to exit once its connection is aborted.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


@dataclass
class FuseMount:
    """A running test filesystem: where it is mounted and its FUSE connection number."""

    path: str
    mode: str
    connection: int
    process: subprocess.Popen[bytes]

    def abort(self) -> None:
        """End the connection: every call waiting on it returns (ECONNABORTED/ENOTCONN)."""
        abort_connection(self.connection)


def fuse_device(mountpoint: str) -> str | None:
    """The ``0:N`` device of the FUSE mount at ``mountpoint``, from the mount table."""
    mounts = parse_mountinfo(Path(MOUNTINFO).read_text(errors="replace"))
    for mount in reversed(mounts):
        if mount.mountpoint == mountpoint and mount.fstype.startswith("fuse"):
            return mount.device
    return None


def ensure_fusectl() -> None:
    """Mount the FUSE control filesystem, where connections can be aborted."""
    if any(m.fstype == "fusectl" for m in parse_mountinfo(Path(MOUNTINFO).read_text())):
        return
    subprocess.run(["mount", "-t", "fusectl", "none", FUSECTL], check=True, timeout=10)


def abort_connection(connection: int) -> None:
    """Abort a FUSE connection; a connection that is already gone is fine."""
    with contextlib.suppress(OSError):
        Path(f"{FUSECTL}/{connection}/abort").write_text("1")


def wait_for_mount(mountpoint: str, process: subprocess.Popen[bytes]) -> int:
    """The connection number once the mount appears; fails if the server exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        device = fuse_device(mountpoint)
        if device is not None:
            return int(device.split(":")[1])
        if process.poll() is not None:
            raise RuntimeError(f"fusefs exited with {process.returncode} before mounting")
        time.sleep(0.02)
    raise RuntimeError(f"fusefs did not mount {mountpoint} within {START_TIMEOUT}s")


def tear_down(mountpoint: str, connection: int | None, process: subprocess.Popen[bytes]) -> None:
    """Abort, unmount lazily, kill and reap: each step runs even if an earlier one failed."""
    if connection is None:
        device = fuse_device(mountpoint)
        connection = int(device.split(":")[1]) if device else None
    try:
        if connection is not None:
            abort_connection(connection)
    finally:
        try:
            for _ in range(3):  # stacked mounts come off one at a time
                if fuse_device(mountpoint) is None:
                    break
                subprocess.run(["umount", "-l", mountpoint], check=True, timeout=10)
        finally:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def mounted_fuse(mode: str, directory: Path) -> Iterator[FuseMount]:
    """A test filesystem in ``mode`` mounted on a fresh directory ``directory/mnt-MODE-N``."""
    if mode not in MODES:
        raise ValueError(f"unknown fusefs mode {mode!r}; use one of {MODES}")
    ensure_fusectl()
    mountpoint = fresh_directory(directory, f"mnt-{mode}")
    process = subprocess.Popen(
        [sys.executable, str(FUSEFS), mode, mountpoint],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    connection: int | None = None
    try:
        connection = wait_for_mount(mountpoint, process)
        yield FuseMount(mountpoint, mode, connection, process)
    finally:
        tear_down(mountpoint, connection, process)


def fresh_directory(parent: Path, prefix: str) -> str:
    """A new empty directory under ``parent``: the mount point of one test filesystem."""
    for number in range(1000):
        candidate = parent / f"{prefix}-{number}"
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return str(candidate)
    raise RuntimeError(f"no free directory name {prefix}-N under {parent}")


class FuseMounts:
    """A factory for a test: ``mounts("hung")`` mounts one more; ``close()`` tears all down."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._stack = contextlib.ExitStack()

    def __call__(self, mode: str) -> FuseMount:
        return self._stack.enter_context(mounted_fuse(mode, self._directory))

    def close(self) -> None:
        self._stack.close()
