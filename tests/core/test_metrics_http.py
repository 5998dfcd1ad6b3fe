from __future__ import annotations

import gzip
import json
import re
import socket
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.maintenance import MaintenanceWindow
from exporter.probe_api import Result, Sample
from exporter.registry import default_registry
from exporter.run_stats import ExporterHealth, RunStats
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from exporter.web.httpd import HttpServer
from exporter.web.metrics import Exposition, SelfMetrics
from exporter.web.server import (
    FORMAT_IDLE,
    RENDER_AHEAD_INTERVAL,
    RENDER_LEAD,
    RENDERED_MAX_AGE,
    Endpoints,
    accepts_gzip,
    serve,
    tick,
    wants_openmetrics,
)
from tests.support.metrics_oracle import SiteStatusCollector

SITE = Site(name="example", environment="prod", tier="priprod", profile="os2web")


@pytest.fixture
def exposition() -> Exposition:
    registry = default_registry()
    registry.load(["disk", "file", "load"])  # as loading a config that uses them does
    store = ResultStore()
    store.configure(
        [
            ProbeSpec("data-disk", "disk", 60),
            ProbeSpec("forecast", "file", 60, depends_on=("data-disk",)),
            ProbeSpec('we"ird\\name', "load", 60),
            ProbeSpec("never-ran", "load", 60),
        ]
    )

    disk = Result(
        Status.CRITICAL,
        "/data 95% used",
        {"mounts": 1},
        (
            Sample("site_status_disk_size_bytes", 1e9, ("/data",)),
            Sample("site_status_disk_available_bytes", 5e7, ("/data",)),
        ),
    )
    store.record("data-disk", disk, 0.002)
    store.record("forecast", Result(Status.CRITICAL, "old"), 0.001)
    store.record(
        'we"ird\\name',
        Result(Status.OK, "fine", {}, (Sample("site_status_load_average", 0.5, ("1m",)),)),
        0.0001,
    )
    stats = RunStats()
    stats.runs["disk", "critical"] += 3
    stats.errors["file", "timeout"] += 1
    stats.seconds["disk"] = 0.25
    window = MaintenanceWindow.model_validate(
        {"start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}
    )
    site = SITE.model_copy(update={"maintenance": (window,)})
    return Exposition(
        store, registry.families, lambda: site, stats, ExporterHealth(), BlockingRunner()
    )


def samples(families: Iterable[Any]) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    found = set()
    for family in families:
        for sample in family.samples:
            found.add((sample.name, tuple(sorted(sample.labels.items())), sample.value))
    return found


def test_fast_render_matches_the_collector(exposition: Exposition) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SiteStatusCollector(exposition))
    reference = samples(parse_text(generate_latest(registry).decode()))
    fast = samples(parse_text(exposition.render().decode()))
    assert fast == reference
    assert ("site_status_probe_status", (("kind", "file"), ("probe", "forecast")), 3.0) in fast
    assert ("site_status_site_status", (), 2.0) in fast
    assert ("site_status_maintenance", (), 1.0) in fast
    assert (
        "site_status_disk_size_bytes",
        (("mountpoint", "/data"), ("probe", "data-disk")),
        1e9,
    ) in fast
    assert ("site_status_probe_status", (("kind", "load"), ("probe", 'we"ird\\name')), 0.0) in fast
    assert ("site_status_probe_runs_total", (("kind", "disk"), ("status", "critical")), 3) in fast
    assert (
        "site_status_site_info",
        (("environment", "prod"), ("profile", "os2web"), ("site", "example"), ("tier", "priprod")),
        1.0,
    ) in fast


def test_every_series_has_help_and_openmetrics_is_valid(exposition: Exposition) -> None:
    text = exposition.render().decode()
    types = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP")}
    assert types == helps
    om = exposition.render(openmetrics=True).decode() + "# EOF\n"
    names = {family.name for family in parse_om(om)}
    assert "site_status_probe_runs" in names
    assert "site_status_probe_status" in names


def test_negotiation_helpers() -> None:
    prometheus = (
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    )
    assert wants_openmetrics(prometheus)
    assert not wants_openmetrics("text/plain")
    assert not wants_openmetrics("application/openmetrics-text;q=0")
    assert accepts_gzip("gzip, deflate")
    assert not accepts_gzip("identity")


def endpoints_of(exposition: Exposition, **options: Any) -> Endpoints:
    return Endpoints(
        exposition,
        SelfMetrics(),
        exposition.store,
        exposition.health,
        exposition.blocking,
        exposition.site,
        **options,
    )


@pytest.fixture
def serving(exposition: Exposition) -> Iterator[tuple[Endpoints, HttpServer]]:
    endpoints = endpoints_of(exposition)
    http = serve("127.0.0.1", 0, endpoints)
    http.start()
    yield endpoints, http
    http.close()


@pytest.fixture
def server(serving: tuple[Endpoints, HttpServer]) -> str:
    return f"http://127.0.0.1:{serving[1].port}"


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_metrics_endpoint_formats_and_gzip(server: str) -> None:
    status, headers, body = get(server + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"process_resident_memory_bytes" in body
    assert b"site_status_build_info{" in body
    status, headers, zipped = get(server + "/metrics", **{"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip"
    assert b"site_status_probe_status" in gzip.decompress(zipped)
    status, headers, body = get(
        server + "/metrics", Accept="application/openmetrics-text; version=1.0.0"
    )
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    assert {f.name for f in parse_om(body.decode())} >= {
        "process_resident_memory_bytes",
        "site_status_probe_status",
    }


def test_healthz_is_health_json(server: str, exposition: Exposition) -> None:
    status, headers, body = get(server + "/healthz")
    document = json.loads(body)
    assert status == 200
    assert headers["Content-Type"] == "application/health+json"
    assert document["status"] == "pass"
    assert set(document["checks"]) == {
        "scheduler:heartbeat",
        "config:reload",
        "probes:stale",
        "mounts:stuck",
    }
    exposition.health.reloaded("probes[0].path: field required")
    assert json.loads(get(server + "/healthz")[2])["status"] == "warn"
    exposition.health.heartbeat_at -= 60
    status, _, body = get(server + "/healthz")
    assert status == 503
    assert json.loads(body)["checks"]["scheduler:heartbeat"][0]["status"] == "fail"


def test_status_lists_every_result_with_details(server: str) -> None:
    status, _, body = get(server + "/status")
    document = json.loads(body)
    assert status == 200
    assert document["status"] == "CRITICAL"
    assert document["maintenance"] is True
    by_name = {p["name"]: p for p in document["probes"]}
    assert by_name["forecast"]["status"] == "UNKNOWN"
    assert by_name["forecast"]["blocked_by"] == "data-disk"
    assert by_name["data-disk"]["details"] == {"mounts": 1}
    assert by_name["never-ran"]["summary"] == "no result yet"
    assert get(server + "/nope")[0] == 404


PROMETHEUS_SCRAPE = (
    b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Prometheus/2.45.0\r\n"
    b"Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
    b"Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"
)


def raw_scrape(connection: socket.socket) -> bytes:
    """One kept-alive scrape with Prometheus' exact bytes; the decompressed body."""
    connection.sendall(PROMETHEUS_SCRAPE)
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        body += connection.recv(65536)
    assert head.startswith(b"HTTP/1.1 200 OK")
    return gzip.decompress(body)


def test_repeated_scrapes_are_rendered_ahead_and_stay_fresh(
    exposition: Exposition, serving: tuple[Endpoints, HttpServer]
) -> None:
    endpoints, http = serving
    status_line = b'site_status_probe_status{probe="data-disk",kind="disk"} '
    with socket.create_connection(("127.0.0.1", http.port), timeout=5) as connection:
        assert status_line + b"2" in raw_scrape(connection)  # the handler renders
        tick(endpoints)
        rendered = endpoints._rendered[True]
        assert status_line + b"2" in raw_scrape(connection)
        assert endpoints._rendered[True] is rendered  # answered from the body rendered ahead
        exposition.store.record("data-disk", Result(Status.OK, "fine"), 0.001)
        tick(endpoints)
        assert status_line + b"0" in raw_scrape(connection)  # a new result shows
        # A format nobody asked for in FORMAT_IDLE is no longer rendered ahead.
        latest = endpoints._rendered[True]
        endpoints._requested[True, True] -= FORMAT_IDLE + 1
        tick(endpoints)
        assert endpoints._rendered[True] is latest


def test_metrics_are_rendered_ahead_only_before_the_next_expected_scrape(
    exposition: Exposition,
) -> None:
    """At a 30 s pace the tick renders in the RENDER_LEAD before the next scrape, not every
    second; a scrape never gets a result older than the store's latest, nor a body older than
    RENDERED_MAX_AGE."""
    now = [1000.0]
    endpoints = endpoints_of(exposition, clock=lambda: now[0])

    def scrape_at(at: float) -> bytes:
        now[0] = at
        return gzip.decompress(endpoints.metrics(True, True).body)

    def ticks(start: float, end: float) -> int:
        """Renders the once-a-second tick makes from ``start`` to ``end``."""
        renders, at = 0, start
        while at <= end:
            now[0] = at
            before = endpoints._rendered.get(True)
            tick(endpoints)
            renders += endpoints._rendered.get(True) is not before
            at += RENDER_AHEAD_INTERVAL
        return renders

    scrape_at(1000.0)
    scrape_at(1030.0)  # the scraper's pace: 30 s
    assert ticks(1030.5, 1028.0 + 30 - RENDER_LEAD) == 0
    assert 1 <= ticks(1030.0 + 30 - RENDER_LEAD, 1059.9) <= 2
    rendered_ahead = endpoints._rendered[True]
    scrape_at(1060.0)
    assert endpoints._rendered[True] is rendered_ahead  # the scrape only sent bytes
    assert 1060.0 - rendered_ahead.at <= RENDER_LEAD
    # A result recorded since the render: the next scrape, however early, renders it.
    exposition.store.record("data-disk", Result(Status.OK, "fine"), 0.001)
    assert b'site_status_probe_status{probe="data-disk",kind="disk"} 0' in scrape_at(1061.0)
    # Nothing changed, but the body is older than RENDERED_MAX_AGE: the scrape renders.
    scrape_at(1061.0 + RENDERED_MAX_AGE + 1)
    assert endpoints._rendered[True].at == 1061.0 + RENDERED_MAX_AGE + 1
