"""The HTTP endpoints: ``/metrics``, ``/healthz`` (application/health+json), ``/status``.

The server (``exporter.web.httpd``) runs in its own threads and only reads the result store, so a
scrape answers in milliseconds whatever the probes (or the event loop) are doing.
"""

from __future__ import annotations

import functools
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from exporter import __version__
from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.history import History
from exporter.reports.delivery_checks import report_checks
from exporter.run_stats import HEARTBEAT_FAIL_AFTER, ExporterHealth
from exporter.store import ResultStore
from exporter.web.httpd import HttpServer, Request, Response
from exporter.web.metrics import Exposition, SelfMetrics
from exporter.web.page import PAGE_HEADERS, render_page, wants_html
from exporter.web.status_doc import (
    STATUS_FORMAT,
    STATUS_MAX_AGE,
    RenderedOnce,
    StatusSnapshot,
    parse_query,
)

TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_FORMAT = "application/openmetrics-text; version=1.0.0; charset=utf-8"
HEALTH_FORMAT = "application/health+json"
HTML_FORMAT = "text/html; charset=utf-8"
VARY = "Accept, Accept-Encoding"
#: Bodies smaller than this are sent uncompressed: gzip would cost more than it saves.
GZIP_MIN_BYTES = 1024
#: The event loop looks this often whether /metrics is due to be rendered ahead (``Exporter``);
#: a scrape then costs the same with 10 probes or 1000.
RENDER_AHEAD_INTERVAL = 1.0
#: How long before a format's next expected scrape it is rendered ahead: its values are then at
#: most this old. A scraper's pace is the gap between its last two scrapes; rendering only ahead
#: of the next one, not every tick, spares a 30 s scrape interval 28 renders of 30.
RENDER_LEAD = 1.5 * RENDER_AHEAD_INTERVAL
#: A rendered body older than this, or from before the store's latest change, is not served
#: (a scrape earlier than its pace; nothing renders ahead: ``check``, a wedged loop); the scrape
#: renders a fresh one itself. So probe results are never stale, process metrics at most this.
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


class RenderedBody:
    """One rendered /metrics body and its responses, plain and gzipped, each made once."""

    __slots__ = ("_responses", "at", "generation", "openmetrics", "plain")

    def __init__(self, at: float, generation: int, plain: bytes, openmetrics: bool) -> None:
        self.at = at
        self.generation = generation  # the store's, when rendering began
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
            response = Response(200, content_type, body, encoding, VARY)
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
    #: The recent transitions /status and the status page list.
    history: History = field(default_factory=History)

    #: The latest body by format (True: OpenMetrics), and when each format and encoding
    #: (format, gzip) was last asked for.
    _rendered: dict[bool, RenderedBody] = field(default_factory=dict)
    _requested: dict[tuple[bool, bool], float] = field(default_factory=dict)
    #: By format: when it was last scraped, and the gap to the scrape before (its pace).
    _last_scrape: dict[bool, float] = field(default_factory=dict)
    _scrape_gap: dict[bool, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _status: RenderedOnce[StatusSnapshot] = field(init=False)
    _page: RenderedOnce[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self._status = RenderedOnce(
            lambda: StatusSnapshot(self.site(), self.store.views(), history=self.history),
            STATUS_MAX_AGE,
        )
        self._page = RenderedOnce(
            lambda: render_page(self.site(), self.store.views(), history=self.history.kept()),
            STATUS_MAX_AGE,
        )

    def metrics(self, openmetrics: bool, gzipped: bool) -> Response:
        """The body rendered ahead by the event loop (and compressed ahead, so that a scrape only
        sends bytes: Prometheus always asks for gzip), or a fresh one if there is none."""
        now = self.clock()
        self._requested[openmetrics, gzipped] = now
        last = self._last_scrape.get(openmetrics)
        if last is not None:
            self._scrape_gap[openmetrics] = now - last
        self._last_scrape[openmetrics] = now
        rendered = self._rendered.get(openmetrics)
        if (
            rendered is None
            or now - rendered.at > RENDERED_MAX_AGE
            or rendered.generation != self.store.generation
        ):
            rendered = self._render(openmetrics)
        return rendered.response(gzipped)

    def render_ahead(self) -> None:
        """Render the formats scrapers asked for lately whose next scrape is near, and make the
        responses they asked for."""
        now = self.clock()
        recent = [
            key for key, asked_at in list(self._requested.items()) if now - asked_at <= FORMAT_IDLE
        ]
        for openmetrics in {openmetrics for openmetrics, _ in recent}:
            if not self._scrape_near(openmetrics, now):
                continue
            rendered = self._render(openmetrics)
            for gzipped in {gzipped for format_, gzipped in recent if format_ == openmetrics}:
                rendered.response(gzipped)

    def _scrape_near(self, openmetrics: bool, now: float) -> bool:
        """Whether the format's next scrape, at its scraper's pace, is within RENDER_LEAD (or
        overdue, or the pace not known yet). A scrape that comes earlier than its pace says
        (two scrapers of one format at different offsets) finds an old body and renders its
        own, as without a tick."""
        gap = self._scrape_gap.get(openmetrics)
        if gap is None:
            return True
        return now >= self._last_scrape[openmetrics] + gap - RENDER_LEAD

    def _render(self, openmetrics: bool) -> RenderedBody:
        generation = self.store.generation
        body = self.exposition.render(openmetrics) + self.self_metrics.render(openmetrics)
        if openmetrics:
            body += b"# EOF\n"
        rendered = RenderedBody(self.clock(), generation, body, openmetrics)
        self._rendered[openmetrics] = rendered
        return rendered

    def page(self) -> bytes:
        """The status page, rendered at most once per STATUS_MAX_AGE like /status."""
        return self._page.get()

    def status(self) -> StatusSnapshot:
        """The latest /status rendering, at most STATUS_MAX_AGE old."""
        return self._status.get()

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
        return status_response(endpoints, request)
    if path == "/":
        if wants_html(request.header("accept")):
            page = Response(200, HTML_FORMAT, endpoints.page(), headers=PAGE_HEADERS)
            return _maybe_gzipped(request, page)
        return Response(200, HTML_FORMAT, _INDEX)
    return Response(404, "text/plain; charset=utf-8", b"not found\n")


def status_response(endpoints: Endpoints, request: Request) -> Response:
    try:
        query = parse_query(request.query)
    except ValueError as error:
        return Response(400, "text/plain; charset=utf-8", f"{error}\n".encode())
    snapshot = endpoints.status()
    if (
        query.everything
        and len(snapshot.body) >= GZIP_MIN_BYTES
        and accepts_gzip(request.header("accept-encoding"))
    ):
        return Response(200, STATUS_FORMAT, snapshot.gzipped(), "gzip", VARY)
    return _maybe_gzipped(request, Response(200, STATUS_FORMAT, snapshot.select(query)))


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


def tick(endpoints: Endpoints) -> None:
    """The event loop's once-a-second /metrics work: render what is about to be scraped."""
    endpoints.render_ahead()


def serve(host: str, port: int, endpoints: Endpoints) -> HttpServer:
    """An (unstarted) server for the endpoints on ``host:port``."""
    return HttpServer(
        host, port, functools.partial(handle, endpoints), server_name=f"site-status/{__version__}"
    )
