"""The HTTP endpoints: ``/metrics``, ``/healthz`` (application/health+json), ``/status``.

The server (``exporter.web.httpd``) runs in its own threads and only reads the result store, so a
scrape answers in milliseconds whatever the probes (or the event loop) are doing.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from exporter import __version__
from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.reports.health import report_checks
from exporter.store import ProbeView, ResultStore, site_status
from exporter.web.health import HEARTBEAT_FAIL_AFTER, ExporterHealth
from exporter.web.httpd import HttpServer, Request, Response
from exporter.web.metrics import Exposition, SelfMetrics

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_FORMAT = "application/openmetrics-text; version=1.0.0; charset=utf-8"
HEALTH_FORMAT = "application/health+json"
VARY = "Accept, Accept-Encoding"
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


@functools.lru_cache(maxsize=32)  # a scraper sends the same header every time
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


@functools.lru_cache(maxsize=32)
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


def metrics_representation(openmetrics: bool, gzipped: bool) -> tuple[str, bool, bool]:
    """The /metrics responses' ``Response.representation``: one per format and encoding."""
    return ("/metrics", openmetrics, gzipped)


class RenderedBody:
    """One rendered /metrics body and its responses, plain and gzipped, each made once."""

    __slots__ = ("_responses", "at", "openmetrics", "plain")

    def __init__(self, at: float, plain: bytes, openmetrics: bool) -> None:
        self.at = at
        self.plain = plain
        self.openmetrics = openmetrics
        self._responses: dict[bool, Response] = {}

    def response(self, gzipped: bool) -> Response:
        """The response to send. Kept, so that a scrape builds nothing: it runs on cold caches
        after seconds of idling, where every line costs ten times its microbenchmark. Two
        threads may both build it once; both results are equal, so no lock is needed."""
        response = self._responses.get(gzipped)
        if response is None:
            body = gzip.compress(self.plain, compresslevel=1) if gzipped else self.plain
            content_type = OPENMETRICS_FORMAT if self.openmetrics else TEXT_FORMAT
            encoding = "gzip" if gzipped else None
            representation = metrics_representation(self.openmetrics, gzipped)
            response = Response(200, content_type, body, encoding, VARY, representation)
            response.fields  # noqa: B018 (encoded now, not on the scrape's path)
            self._responses[gzipped] = response
        return response


@dataclass
class Endpoints:
    """What the handlers read; ``site`` is a callable because a reload may change it."""

    exposition: Exposition
    self_metrics: SelfMetrics
    store: ResultStore
    health: ExporterHealth
    blocking: BlockingRunner
    site: Callable[[], Site]

    #: The latest body by format (True: OpenMetrics), and when each format and encoding
    #: (format, gzip) was last asked for.
    _rendered: dict[bool, RenderedBody] = field(default_factory=dict)
    _requested: dict[tuple[bool, bool], float] = field(default_factory=dict)

    def metrics(self, openmetrics: bool, gzipped: bool) -> Response:
        """The body rendered ahead by the event loop (and compressed ahead, so that a scrape only
        sends bytes: Prometheus always asks for gzip), or a fresh one if there is none."""
        now = time.monotonic()
        self._requested[openmetrics, gzipped] = now
        rendered = self._rendered.get(openmetrics)
        if rendered is None or now - rendered.at > RENDERED_MAX_AGE:
            rendered = self._render(openmetrics)
        return rendered.response(gzipped)

    def render_ahead(self) -> None:
        """Render the formats scrapers asked for lately, and make the responses they asked for."""
        now = time.monotonic()
        recent = [
            key for key, asked_at in list(self._requested.items()) if now - asked_at <= FORMAT_IDLE
        ]
        for openmetrics in {openmetrics for openmetrics, _ in recent}:
            rendered = self._render(openmetrics)
            for gzipped in {gzipped for format_, gzipped in recent if format_ == openmetrics}:
                rendered.response(gzipped)

    def published(self) -> dict[Hashable, Response]:
        """The responses rendered ahead, by representation, for ``HttpServer.publish``."""
        now = time.monotonic()
        responses: dict[Hashable, Response] = {}
        for (openmetrics, gzipped), asked_at in list(self._requested.items()):
            rendered = self._rendered.get(openmetrics)
            if rendered is None or now - rendered.at > RENDERED_MAX_AGE:
                continue  # not rendered ahead: a scrape renders it itself
            if now - asked_at <= FORMAT_IDLE:
                responses[metrics_representation(openmetrics, gzipped)] = rendered.response(gzipped)
        return responses

    def note_served(self, served: Mapping[Hashable, float]) -> None:
        """Scrapes the server answered from published bytes (they never reach ``metrics``):
        their formats stay rendered ahead."""
        for openmetrics, gzipped in list(self._requested):
            at = served.get(metrics_representation(openmetrics, gzipped))
            if at is not None and at > self._requested[openmetrics, gzipped]:
                self._requested[openmetrics, gzipped] = at

    def _render(self, openmetrics: bool) -> RenderedBody:
        body = self.exposition.render(openmetrics) + self.self_metrics.render(openmetrics)
        if openmetrics:
            body += b"# EOF\n"
        rendered = RenderedBody(time.monotonic(), body, openmetrics)
        self._rendered[openmetrics] = rendered
        return rendered

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
            **report_checks(self.self_metrics.report_stats),
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


def handle(endpoints: Endpoints, request: Request) -> Response:
    """The response to one request for one of the endpoints."""
    path = request.path
    if path == "/metrics":
        openmetrics = wants_openmetrics(request.header("accept"))
        return endpoints.metrics(openmetrics, accepts_gzip(request.header("accept-encoding")))
    if path == "/healthz":
        code, document = endpoints.healthz()
        return _maybe_gzipped(request, Response(code, HEALTH_FORMAT, _json(document)))
    if path == "/status":
        return _maybe_gzipped(request, Response(200, "application/json", _json(endpoints.status())))
    if path == "/":
        return Response(200, "text/html; charset=utf-8", _INDEX)
    return Response(404, "text/plain; charset=utf-8", b"not found\n")


def _maybe_gzipped(request: Request, response: Response) -> Response:
    """``response`` gzipped if it is worth it and the client takes it."""
    if len(response.body) < GZIP_MIN_BYTES or not accepts_gzip(request.header("accept-encoding")):
        return replace(response, vary=VARY)
    body = gzip.compress(response.body, compresslevel=1)
    return replace(response, body=body, encoding="gzip", vary=VARY)


def _json(document: Any) -> bytes:
    return (json.dumps(document, default=str, indent=1) + "\n").encode()


_INDEX = (
    b"<html><head><title>site-status</title></head><body><h1>site-status</h1><ul>"
    b'<li><a href="/metrics">/metrics</a></li><li><a href="/status">/status</a></li>'
    b'<li><a href="/healthz">/healthz</a></li></ul></body></html>\n'
)


def tick(endpoints: Endpoints, server: HttpServer | None) -> None:
    """The event loop's once-a-second /metrics work: keep rendering what was scraped (the server
    answers repeated scrapes itself, so it tells which), render, and publish the responses."""
    if server is not None:
        endpoints.note_served(server.served())
    endpoints.render_ahead()
    if server is not None:
        server.publish(endpoints.published(), fresh_for=RENDERED_MAX_AGE)


def serve(host: str, port: int, endpoints: Endpoints) -> HttpServer:
    """An (unstarted) server for the endpoints on ``host:port``."""
    return HttpServer(
        host, port, functools.partial(handle, endpoints), server_name=f"site-status/{__version__}"
    )
