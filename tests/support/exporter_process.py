"""The real ``site-status`` command in a child process, and readers for what it serves."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command_env(extra_path: Sequence[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITE_STATUS_")}
    env["PYTHONPATH"] = os.pathsep.join([*extra_path, str(REPO)])
    return env


def site_status(
    *args: str, extra_path: Sequence[str] = (), timeout: float = 60, user: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``site-status ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True,
        text=True,
        env=command_env(extra_path),
        timeout=timeout,
        user=user,
        check=False,
    )


@dataclass
class RunningExporter:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def metrics(self) -> Series:
        _, body = self.get("/metrics")
        return parse_series(body.decode())

    def status(self) -> dict[str, Any]:
        return json.loads(self.get("/status")[1])  # type: ignore[no-any-return]

    def probe(self, name: str) -> dict[str, Any]:
        return next(p for p in self.status()["probes"] if p["name"] == name)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop_serving(self, timeout: float) -> float:
        """SIGTERM, then the seconds until the port is closed and the log says it stopped
        (fails after ``timeout``); the process itself may still wait on a stuck thread."""
        port = int(self.url.rsplit(":", 1)[1])
        self.signal(signal.SIGTERM)
        stopping = time.monotonic()

        def stopped() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            except OSError:
                return "msg=stopped" in self.log_text()
            return False

        wait_until(stopped, timeout=timeout)
        return time.monotonic() - stopping

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def threads_waiting_on_fuse(self) -> int:
        """Threads of the exporter that wait in the kernel for a FUSE answer."""
        count = 0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                count += (task / "wchan").read_text().strip() == "request_wait_answer"
        return count


def parse_series(text: str) -> Series:
    series: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return series


def wait_until(condition: Any, timeout: float, interval: float = 0.05) -> Any:
    """Poll ``condition()`` until it returns something true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


#: Another process may take the free port between free_port() and the exporter's bind.
PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class Credentials:
    """A uid, gid and supplementary groups to run the exporter under (tests run as root): a
    pod's runAsUser, runAsGroup and fsGroup."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def open_to_others(path: Path) -> bool:
    """Whether a uid other than the owner (no capabilities) can run ``path``."""
    parts = [path, *path.parents]
    return all(p.stat().st_mode & stat.S_IXOTH for p in parts)


def python_for_others() -> tuple[str, list[str]]:
    """An interpreter another uid can run, and what PYTHONPATH it needs to find this one's
    packages. A venv whose interpreter lives under root's home (pyenv) is closed to other uids:
    then the system's interpreter of the same minor version, with the venv's site-packages."""
    executable = Path(sys.executable).resolve()
    if open_to_others(executable):
        return sys.executable, []
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = Path("/usr/bin") / version
    if not system.exists() or not open_to_others(system.resolve()):
        pytest.skip(f"no {version} that another uid can run ({executable} is closed to it)")
    return str(system), [sysconfig.get_paths()["purelib"]]


def start_exporter(config: Path, log: Path, user: Credentials | None = None) -> RunningExporter:
    port = free_port()
    python, extra_path = sys.executable, list[str]()
    as_user: dict[str, Any] = {}
    if user is not None:
        python, extra_path = python_for_others()
        as_user = {"user": user.uid, "group": user.gid, "extra_groups": list(user.groups)}
    env = command_env()
    # After the repository: its code, not an installed copy, is what runs.
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], *extra_path])
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                python,
                "-m",
                "exporter.cli",
                "run",
                "--config",
                str(config),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            **as_user,
        )
    return RunningExporter(process, f"http://127.0.0.1:{port}", log)


class PortTaken(Exception):
    pass


def _wait_ready(exporter: RunningExporter) -> None:
    def ready() -> bool:
        if exporter.process.poll() is not None:
            text = exporter.log_text()
            if "Address already in use" in text:
                raise PortTaken(text)
            raise AssertionError(f"exporter exited early:\n{text}")
        with contextlib.suppress(OSError):
            return exporter.get("/healthz", timeout=1)[0] == 200
        return False

    wait_until(ready, timeout=20)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def running_exporter(
    config: Path, workdir: Path, user: Credentials | None = None, log_name: str = "exporter.log"
) -> Iterator[RunningExporter]:
    """``site-status run`` on a free loopback port; killed in teardown if still running."""
    log = workdir / log_name
    for attempt in range(PORT_ATTEMPTS):
        exporter = start_exporter(config, log, user)
        try:
            _wait_ready(exporter)
            break
        except PortTaken:
            _stop(exporter.process)
            if attempt == PORT_ATTEMPTS - 1:
                raise
        except BaseException:
            _stop(exporter.process)
            raise
    try:
        yield exporter
    finally:
        _stop(exporter.process)
