"""Debian's Prometheus and Alertmanager on loopback, and a webhook receiver that records pages."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from mixin.config import MixinConfig
from mixin.rules import rule_files
from tests.support.exporter_process import free_port, wait_until


@dataclass
class Notification:
    receiver: str  # the webhook path: /pager -> "pager"
    received_at: float  # time.monotonic()
    body: dict[str, Any]

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.body["alerts"]
        return alerts


@dataclass
class WebhookReceiver:
    server: ThreadingHTTPServer
    notifications: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{receiver}"

    def received(self) -> list[Notification]:
        with self.lock:
            return list(self.notifications)

    def alerts_to(self, receiver: str, **labels: str) -> list[tuple[float, str, dict[str, Any]]]:
        """(received_at, status, alert) of every alert sent to ``receiver`` with ``labels``."""
        found = []
        for notification in self.received():
            if notification.receiver != receiver:
                continue
            for alert in notification.alerts():
                if all(alert["labels"].get(k) == v for k, v in labels.items()):
                    found.append((notification.received_at, alert["status"], alert))
        return found

    def alerts_for_site(self, site: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (n.receiver, alert)
            for n in self.received()
            for alert in n.alerts()
            if alert["labels"].get("site") == site
        ]


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with receiver.lock:
                receiver.notifications.append(
                    Notification(self.path.strip("/"), time.monotonic(), body)
                )
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def http_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Prometheus:
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = http_json(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        query = urllib.parse.urlencode({"match[]": match})
        values: list[str] = http_json(f"{self.url}/api/v1/label/{label}/values?{query}")["data"]
        return values

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = http_json(f"{self.url}/api/v1/alerts")["data"]["alerts"]
        return alerts

    def targets_up(self) -> int:
        return len([r for r in self.query("up == 1")])


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: scripts/test installs Debian's {package}"
    return path


@contextlib.contextmanager
def _process(command: list[str], log: Path, ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited:\n{log.read_text(errors='replace')}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(ready_url, timeout=1) as response,
            ):
                return bool(response.status == 200)
            return False

        wait_until(ready, timeout=30, interval=0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def write_rule_files(workdir: Path, config: MixinConfig) -> list[Path]:
    """The mixin's rule files rendered with ``config`` into ``workdir``, in the shipped order."""
    paths = []
    for name, document in rule_files(config).items():
        path = workdir / name
        path.write_text(yaml.safe_dump(document))
        paths.append(path)
    return paths


@contextlib.contextmanager
def prometheus_with_config(
    workdir: Path, config: dict[str, Any], *extra_args: str
) -> Iterator[Prometheus]:
    """Debian's Prometheus on a free loopback port with ``config`` as its prometheus.yml."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        _binary("prometheus", "prometheus"),
        f"--config.file={path}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.console.templates=/nonexistent",
        "--web.console.libraries=/nonexistent",
        # A firing alert is re-sent this often; resolved ones are sent at once.
        "--rules.alert.resend-delay=1s",
        *extra_args,
    ]
    url = f"http://127.0.0.1:{port}"
    log = workdir / "prometheus.log"
    with _process(command, log, f"{url}/-/ready"):
        yield Prometheus(url, log)


@contextlib.contextmanager
def running_prometheus(
    workdir: Path,
    targets: list[str],
    rule_files: list[Path],
    alertmanager: str,
    interval: str,
    extra_args: tuple[str, ...] = (),
    target_labels: dict[str, str] | None = None,
) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` as job ``site-status`` and sending to ``alertmanager``;
    ``target_labels`` as a ServiceMonitor adds them (``namespace``)."""
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            {
                "job_name": "site-status",
                "static_configs": [{"targets": targets, "labels": target_labels or {}}],
            }
        ],
    }
    with prometheus_with_config(workdir, config, *extra_args) as prometheus:
        yield prometheus


@contextlib.contextmanager
def running_alertmanager(workdir: Path, config: dict[str, Any]) -> Iterator[str]:
    """Alertmanager with ``config``, clustering off; yields its ``host:port``."""
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    command = [
        _binary("prometheus-alertmanager", "prometheus-alertmanager"),
        f"--config.file={path}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    address = f"127.0.0.1:{port}"
    with _process(command, workdir / "alertmanager.log", f"http://{address}/-/ready"):
        yield address
