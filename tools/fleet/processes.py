"""Starting and stopping the run's programs (all on loopback, all stopped by the driver)."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.fleet.configs import REPO
from tools.processes import (
    BenchmarkBroken,
    Child,
    site_status_argv,
    site_status_env,
    started_child,
    stop,
)

NGINX = "/usr/sbin/nginx"
PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"
BLACKBOX = "prometheus-blackbox-exporter"


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


class Ports:
    """Listening ports below the kernel's ephemeral range. A port the kernel hands out for
    ``bind(0)`` can be taken by any outgoing connection before the child binds it (hundreds of
    exporters and Prometheus connect all the time); ports below the range never are."""

    def __init__(self) -> None:
        low, _ = _ephemeral_range()
        self.high = max(2000, low - 1)
        self.next = random.randrange(max(1024, self.high - 12000), max(1025, self.high - 2000))

    def take(self) -> int:
        while self.next < self.high:
            port, self.next = self.next, self.next + 1
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
        raise BenchmarkBroken("no free port below the ephemeral range")


PORTS = Ports()


def free_port() -> int:
    return PORTS.take()


def answers(port: int, path: str, timeout: float = 2.0) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_answering(children: Sequence[Child], path: str, timeout: float) -> None:
    """Until every child answers ``path`` with 200; raise if one dies or time runs out."""
    waiting = list(children)
    deadline = time.monotonic() + timeout
    while waiting:
        for child in waiting:
            child.raise_if_dead()
        waiting = [c for c in waiting if not answers(c.port, path)]
        if not waiting:
            return
        if time.monotonic() > deadline:
            names = ", ".join(c.name for c in waiting[:5])
            raise BenchmarkBroken(
                f"{len(waiting)} not answering {path} after {timeout:g}s: {names}"
            )
        time.sleep(0.5)


def started_exporter(name: str, config: Path, log: Path) -> Child:
    port = free_port()
    argv = site_status_argv("run", "--config", str(config), "--listen", f"127.0.0.1:{port}")
    return started_child(name, argv, port, log, site_status_env())


def started_nginx(workdir: Path, config_text: str, port: int) -> Child:
    prefix = workdir / "nginx"
    prefix.mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(config_text)
    argv = [NGINX, "-p", str(prefix), "-c", "nginx.conf", "-e", "stderr"]
    return started_child("nginx", argv, port, workdir / "nginx.log", dict(os.environ))


def started_blackbox(workdir: Path, config_text: str) -> Child:
    config = workdir / "blackbox.yml"
    config.write_text(config_text)
    port = free_port()
    argv = [BLACKBOX, f"--web.listen-address=127.0.0.1:{port}", f"--config.file={config}"]
    log = workdir / "blackbox.log"
    return started_child("blackbox_exporter", argv, port, log, dict(os.environ))


def started_alertmanager(workdir: Path, config: Path) -> Child:
    port = free_port()
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return started_child("alertmanager", argv, port, workdir / "alertmanager.log", dict(os.environ))


def reload_alertmanager(child: Child) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{child.port}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            raise BenchmarkBroken(f"alertmanager reload answered {response.status}")


def started_prometheus(workdir: Path, config: Path, resend_delay: str) -> Child:
    port = free_port()
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.console.templates=/nonexistent",
        "--web.console.libraries=/nonexistent",
        # A firing alert is re-sent to Alertmanager this often (1m shipped, compressed here).
        f"--rules.alert.resend-delay={resend_delay}",
        "--storage.tsdb.retention.time=1d",
    ]
    return started_child("prometheus", argv, port, workdir / "prometheus.log", dict(os.environ))


def started_kube_state_metrics(workdir: Path, state: Path) -> Child:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "tools.fleet.kube_state_metrics",
        *("--state", str(state), "--port", str(port)),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    log = workdir / "kube-state-metrics.log"
    return started_child("kube-state-metrics", argv, port, log, env)


@dataclass
class Sinks:
    process: subprocess.Popen[str]
    loki_port: int
    webhook_port: int

    def get(self, path: str) -> object:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.webhook_port}{path}", timeout=120
        ) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def started_sinks(workdir: Path) -> Sinks:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with (workdir / "sinks.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.fleet.sinks"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=REPO,
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise BenchmarkBroken(f"the sinks did not start: {(workdir / 'sinks.log').read_text()}")
    ports = json.loads(line)
    return Sinks(process, int(ports["loki"]), int(ports["webhook"]))


def kill(child: Child) -> None:
    child.process.send_signal(signal.SIGKILL)
    child.process.wait(timeout=10)


__all__ = ["Child", "kill", "stop"]
