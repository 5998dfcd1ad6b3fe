"""The HTTP endpoints: ``/metrics``, ``/healthz`` (application/health+json), ``/status``.

The server runs in its own threads and only reads the result store, so a scrape answers in
milliseconds whatever the probes (or the event loop) are doing.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from exporter import __version__
from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.health import HEARTBEAT_FAIL_AFTER, ExporterHealth
from exporter.metrics import Exposition, SelfMetrics
from exporter.store import ProbeView, ResultStore, site_status

log = logging.getLogger(__name__)

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_FORMAT = "application/openmetrics-text; version=1.0.0; charset=utf-8"
HEALTH_FORMAT = "application/health+json"
#: Bodies smaller than this are sent uncompressed: gzip would cost more than it saves.
GZIP_MIN_BYTES = 1024
#: The event loop renders /metrics this often (``Exporter``), so a scrape's values are at most
#: this old; a scrape then costs the same with 10 probes or 1000.
RENDER_AHEAD_INTERVAL = 1.0
#: A rendered body older than this is not served (nothing renders ahead: ``check``, a wedged
#: loop); the scrape renders a fresh one itself.
RENDERED_MAX_AGE = 3 * RENDER_AHEAD_INTERVAL
#: A format no scraper asked for in this long is no longer rendered ahead.
FORMAT_IDLE = 300.0


def wants_openmetrics(accept: str) -> bool:
    """OpenMetrics if the scraper asks for it (Prometheus does, with a q-value)."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media == "application/openmetrics-text":
            q = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                return float(q) > 0
            except ValueError:
                return True
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    return any(
        part.split(";")[0].strip().lower() == "gzip" and "q=0" not in part.replace(" ", "")
        for part in accept_encoding.split(",")
    )


def view_document(view: ProbeView, now: float | None = None) -> dict[str, Any]:
    state = view.state
    now = time.time() if now is None else now
    return {
        "name": view.name,
        "kind": view.kind,
        "status": view.status.name,
        "code": int(view.status),
        "summary": view.summary,
        "critical": state.spec.critical,
        "stale": view.stale,
        "blocked_by": view.blocked_by,
        "last_run": state.finished_at or None,
        "result_age_seconds": round(max(0.0, now - state.finished_at), 3)
        if state.finished_at
        else None,
        "running": view.running_since is not None,
        "running_seconds": round(max(0.0, now - view.running_since), 3)
        if view.running_since is not None
        else None,
        "duration_seconds": round(state.duration, 6) if state.raw else None,
        "interval_seconds": state.spec.interval,
        "details": view.details(),
    }


@dataclass
class Endpoints:
    """What the handlers read; ``site`` is a callable because a reload may change it."""

    exposition: Exposition
    self_metrics: SelfMetrics
    store: ResultStore
    health: ExporterHealth
    blocking: BlockingRunner
    site: Callable[[], Site]

    #: (rendered at, body) by format (True: OpenMetrics), and when each format was last asked for.
    _rendered: dict[bool, tuple[float, bytes]] = field(default_factory=dict)
    _requested: dict[bool, float] = field(default_factory=dict)

    def metrics(self, openmetrics: bool) -> bytes:
        """The body rendered ahead by the event loop, or a fresh one if there is none."""
        now = time.monotonic()
        self._requested[openmetrics] = now
        cached = self._rendered.get(openmetrics)
        if cached is not None and now - cached[0] <= RENDERED_MAX_AGE:
            return cached[1]
        return self._render(openmetrics)

    def render_ahead(self) -> None:
        """Render the formats scrapers asked for lately, so that a scrape only sends bytes."""
        now = time.monotonic()
        for openmetrics, asked_at in list(self._requested.items()):
            if now - asked_at <= FORMAT_IDLE:
                self._render(openmetrics)

    def _render(self, openmetrics: bool) -> bytes:
        body = self.exposition.render(openmetrics) + self.self_metrics.render(openmetrics)
        if openmetrics:
            body += b"# EOF\n"
        self._rendered[openmetrics] = (time.monotonic(), body)
        return body

    def status(self) -> dict[str, Any]:
        site = self.site()
        views = self.store.views()
        rollup = site_status(views)
        return {
            "site": {
                "name": site.name,
                "environment": site.environment,
                "tier": site.tier,
                "profile": site.profile,
            },
            "status": rollup.name,
            "code": int(rollup),
            "maintenance": site.in_maintenance(),
            "probes": [view_document(view) for view in views],
        }

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """Our own health in the IETF health+json format: 200 for pass/warn, 503 for fail."""
        views = self.store.views()
        heartbeat = self.health.heartbeat_age()
        stale = sum(view.stale for view in views)
        stuck = self.blocking.stuck()
        checks = {
            "scheduler:heartbeat": _check(
                "fail" if heartbeat > HEARTBEAT_FAIL_AFTER else "pass",
                round(heartbeat, 3),
                "s",
                "the event loop that runs the probes",
            ),
            "config:reload": _check(
                "pass" if self.health.reload_successful else "warn",
                int(self.health.reload_successful),
                None,
                self.health.reload_error or "last config load succeeded",
            ),
            "probes:stale": _check(
                "warn" if stale else "pass",
                stale,
                None,
                "probes whose result is older than 3 intervals",
            ),
            "mounts:stuck": _check(
                "warn" if stuck else "pass",
                len(stuck),
                None,
                ", ".join(sorted(stuck)) or "no stuck mount",
            ),
        }
        statuses = [c[0]["status"] for c in checks.values()]
        overall = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
        document = {
            "status": overall,
            "version": __version__.split(".")[0],
            "releaseId": __version__,
            "serviceId": f"site-status/{self.site().name}",
            "description": "site-status exporter",
            "checks": checks,
        }
        return (503 if overall == "fail" else 200), document


def _check(status: str, value: Any, unit: str | None, output: str) -> list[dict[str, Any]]:
    check: dict[str, Any] = {"status": status, "observedValue": value, "output": output}
    if unit:
        check["observedUnit"] = unit
    return [check]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the
    # client's delayed ACK (40 ms on Linux).
    disable_nagle_algorithm = True
    server_version = f"site-status/{__version__}"

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _dispatch(self, head: bool) -> None:
        endpoints = self.server.endpoints
        path = self.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                openmetrics = wants_openmetrics(self.headers.get("Accept", ""))
                body = endpoints.metrics(openmetrics)
                self._send(200, OPENMETRICS_FORMAT if openmetrics else TEXT_FORMAT, body, head)
            elif path == "/healthz":
                code, document = endpoints.healthz()
                self._send(code, HEALTH_FORMAT, _json(document), head)
            elif path == "/status":
                self._send(200, "application/json", _json(endpoints.status()), head)
            elif path == "/":
                self._send(200, "text/html; charset=utf-8", _INDEX, head)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n", head)
        except Exception:
            log.exception("error serving %s", path)
            self._send(500, "text/plain; charset=utf-8", b"internal error\n", head)

    def _send(self, code: int, content_type: str, body: bytes, head: bool) -> None:
        if len(body) >= GZIP_MIN_BYTES and accepts_gzip(self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body, compresslevel=1)
            self.send_response(code)
            self.send_header("Content-Encoding", "gzip")
        else:
            self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept, Accept-Encoding")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def _json(document: Any) -> bytes:
    return (json.dumps(document, default=str, indent=1) + "\n").encode()


_INDEX = (
    b"<html><head><title>site-status</title></head><body><h1>site-status</h1><ul>"
    b'<li><a href="/metrics">/metrics</a></li><li><a href="/status">/status</a></li>'
    b'<li><a href="/healthz">/healthz</a></li></ul></body></html>\n'
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.endpoints = endpoints
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN in DNS, which can hang at start-up
        # where DNS is broken; nothing here uses the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class HttpServer:
    """Serves the endpoints from daemon threads until ``close``."""

    def __init__(self, host: str, port: int, endpoints: Endpoints) -> None:
        self._server = _Server((host, port), endpoints)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="site-status http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
