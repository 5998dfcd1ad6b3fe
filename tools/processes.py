"""Child processes of the benchmarks and the fleet simulation: start one on loopback with its
log in a file, wait until it serves, stop it (SIGTERM, then SIGKILL). It dies with its parent."""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0
STOP_GRACE = 5.0
LOG_TAIL_LINES = 30
_PR_SET_PDEATHSIG = 1


class BenchmarkBroken(Exception):
    """Something other than a missed target: an exporter died or answered with an error."""


# --- options ----------------------------------------------------------------------------------


@dataclass
class Child:
    """One exporter in a child process, serving on ``port``."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:])

    def raise_if_dead(self) -> None:
        if not self.alive():
            raise BenchmarkBroken(
                f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}"
            )


def free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


def die_with_parent() -> None:
    """In the child before exec: get SIGTERM if the benchmark itself is killed (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def started_child(
    name: str, argv: Sequence[str], port: int, log: Path, env: dict[str, str]
) -> Child:
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=die_with_parent,
        )
    return Child(name, process, port, log)


def site_status_env() -> dict[str, str]:
    """The environment with the repo on PYTHONPATH and no ``SITE_STATUS_*`` overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITE_STATUS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def site_status_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "exporter.cli", *args]


def stop(child: Child) -> None:
    """SIGTERM, then SIGKILL after a grace period."""
    if child.alive():
        child.process.send_signal(signal.SIGTERM)
        try:
            child.process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def wait_ready(child: Child) -> None:
    """Until ``/metrics`` answers 200; raise if the child dies or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        child.raise_if_dead()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", child.port, timeout=2)
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise BenchmarkBroken(f"{child.name} not ready after {READY_TIMEOUT:g}s")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` in MiB, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkBroken(f"no VmRSS for pid {pid}")
