"""One signal policy for every command, driven through a terminal as a person meets it: Ctrl-C
(or SIGTERM) at start-up, while a probe runs, while serving and while the gate watches ends the
command with one line and the documented exit code (docs/usage.md, "Stopping a command"), never a
traceback."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.exporter_process import command_env, free_port, running_exporter, wait_until

CTRL_C = b"\x03"


@dataclass
class OnTerminal:
    """``site-status ARGS`` with a pty as its controlling terminal (Ctrl-C goes through the
    terminal's line discipline, as at a keyboard)."""

    process: subprocess.Popen[bytes]
    controller: int
    seen: bytearray = field(default_factory=bytearray)

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.controller], [], [], timeout)
        if ready:
            with contextlib.suppress(OSError):  # EIO: the child closed the terminal
                self.seen += os.read(self.controller, 65536)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            assert self.process.poll() is None, self.text
            assert time.monotonic() < deadline, f"no {text!r} within {timeout}s: {self.text}"
            self.read(0.1)

    def policy_in_force(self, timeout: float = 30) -> None:
        """Until the command has put its signal policy in place: its very first step, before
        it imports its libraries (the interpreter's own start-up before it is not ours)."""
        sigterm = 1 << (signal.SIGTERM - 1)
        status = Path(f"/proc/{self.process.pid}/status")

        def caught() -> bool:
            for line in status.read_text().splitlines():
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & sigterm)
            return False

        wait_until(caught, timeout=timeout, interval=0.002)

    def interrupt(self) -> None:
        os.write(self.controller, CTRL_C)

    def finish(self, timeout: float = 30) -> tuple[int, list[str]]:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        code = self.process.wait(timeout=1)
        self.read(0.2)
        return code, [line for line in self.text.splitlines() if line.strip() not in ("", "^C")]

    @property
    def text(self) -> str:
        return self.seen.decode(errors="replace").replace("\r\n", "\n")


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@contextlib.contextmanager
def on_terminal(*args: str) -> Iterator[OnTerminal]:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**command_env(), "TERM": "xterm", "COLUMNS": "100"},
        start_new_session=True,
        preexec_fn=_take_terminal,
    )
    os.close(terminal)
    try:
        yield OnTerminal(process, controller)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(controller)


def no_traceback(lines: list[str]) -> None:
    assert not any("Traceback" in line or "Error:" in line for line in lines), lines


def file_config(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "site.yaml"
    document = {
        "site": {"name": "demo"},
        "reports": {"file": str(tmp_path / "reports.jsonl")},
        "probes": [{"name": "here", "kind": "file", "path": str(path)}],
        **extra,
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("command", "line", "code"),
    [
        ("check", "site-status check: interrupted by SIGINT, no result", 130),
        ("validate", "site-status validate: interrupted by SIGINT, no result", 130),
        ("run", "site-status run: stopped by SIGINT while starting", 0),
    ],
)
def test_ctrl_c_at_start_up(tmp_path: Path, command: str, line: str, code: int) -> None:
    extra = ("--listen", f"127.0.0.1:{free_port()}") if command == "run" else ()
    with on_terminal(command, "--config", str(file_config(tmp_path)), *extra) as terminal:
        terminal.policy_in_force()
        terminal.interrupt()
        assert terminal.finish() == (code, [line])


def test_gate_ctrl_c_at_start_up() -> None:
    with on_terminal("gate", "--url", "http://127.0.0.1:9") as terminal:
        terminal.policy_in_force()
        terminal.interrupt()
        assert terminal.finish() == (130, ["site-status gate: interrupted by SIGINT, no result"])


@contextlib.contextmanager
def silent_server() -> Iterator[socket.socket]:
    """A loopback port that accepts connections and never answers: a probe in flight."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        yield server


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_check_stopped_while_a_probe_runs(tmp_path: Path, signum: int, code: int) -> None:
    with silent_server() as server:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/healthz"
        probe = {"name": "slow", "kind": "http", "url": url, "timeout": "25s"}
        config = file_config(tmp_path, defaults={"interval": "60s", "timeout": "25s"})
        document = yaml.safe_load(config.read_text())
        document["probes"].append(probe)
        config.write_text(yaml.safe_dump(document))
        with on_terminal("check", "--config", str(config)) as terminal:
            connection, _ = server.accept()  # the probe is waiting for its answer now
            with connection:
                started = time.monotonic()
                if signum == signal.SIGINT:
                    terminal.interrupt()
                else:
                    terminal.process.send_signal(signum)
                name = signal.Signals(signum).name
                expected = f"site-status check: interrupted by {name} while the probes ran"
                assert terminal.finish() == (code, [f"{expected}, no result"])
                assert time.monotonic() - started < 10


def test_run_ctrl_c_while_serving_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    config = file_config(tmp_path)
    with on_terminal("run", "--config", str(config), "--listen", f"127.0.0.1:{port}") as terminal:
        terminal.wait_for("serving on")
        terminal.interrupt()
        code, lines = terminal.finish()
    assert code == 0
    no_traceback(lines)
    assert [line.split("msg=", 1)[1] for line in lines[1:]] == [
        "received SIGINT, stopping",
        "stopped",
    ]


def test_gate_ctrl_c_while_watching(tmp_path: Path) -> None:
    config = file_config(tmp_path)
    with running_exporter(config, tmp_path) as exporter:
        wait_until(lambda: exporter.probe("here")["status"] == "OK", timeout=30)
        args = ("gate", "--url", exporter.url, "--watch", "1h", "--poll", "1s")
        with on_terminal(*args) as terminal:
            terminal.wait_for("watching 1s of 60m: 1/1 sites OK")
            terminal.interrupt()
            code, lines = terminal.finish()
    assert code == 130
    *progress, last = lines
    assert all(line.startswith("\x1b[K") or "watching" in line for line in progress), lines
    assert last.startswith("site-status gate: interrupted by SIGINT after ")
    assert last.endswith("s of watching, no result")
