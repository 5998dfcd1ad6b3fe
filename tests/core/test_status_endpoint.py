"""/status: filters, and a cost that does not grow with the number of clients (issue 13 §6)."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.blocking import BlockingRunner
from exporter.config import Site
from exporter.probe_api import Result
from exporter.registry import default_registry
from exporter.run_stats import ExporterHealth, RunStats
from exporter.status import Status
from exporter.store import ProbeSpec, ResultStore
from exporter.web.httpd import HttpServer
from exporter.web.metrics import Exposition, SelfMetrics
from exporter.web.server import Endpoints, serve
from exporter.web.status_doc import parse_query

SITE = Site(name="example", environment="prod", tier="priprod", profile="os2web")
MANY = 10_000
CLIENTS = 8
REQUESTS_EACH = 3


def filled_store(count: int) -> ResultStore:
    store = ResultStore()
    store.configure(ProbeSpec(f"probe-{n}", "file", 60) for n in range(count))
    for n in range(count):
        details = {"path": f"/data/file-{n}", "age_seconds": 12.5, "matches": [f"/data/{n}"]}
        store.record(f"probe-{n}", Result(Status(n % 4), f"summary {n}", details), 0.001)
    return store


def served(store: ResultStore) -> Iterator[str]:
    exposition = Exposition(
        store, default_registry().families, lambda: SITE, RunStats(), ExporterHealth(),
        BlockingRunner(),
    )  # fmt: skip
    endpoints = Endpoints(
        exposition, SelfMetrics(), store, exposition.health, exposition.blocking, lambda: SITE
    )
    http: HttpServer = serve("127.0.0.1", 0, endpoints)
    http.start()
    try:
        yield f"http://127.0.0.1:{http.port}"
    finally:
        http.close()


@pytest.fixture
def small() -> Iterator[str]:
    yield from served(filled_store(8))


@pytest.fixture(scope="module")
def many() -> Iterator[str]:
    yield from served(filled_store(MANY))


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def probes(url: str) -> list[dict[str, Any]]:
    status, _, body = get(url)
    assert status == 200
    document = json.loads(body)
    assert document["status"] == "CRITICAL"  # the site's rollup, whatever the filter keeps
    return list(document["probes"])


def test_filters_by_probe_and_status(small: str) -> None:
    assert [p["name"] for p in probes(small + "/status?probe=probe-1")] == ["probe-1"]
    both = probes(small + "/status?probe=probe-1&probe=probe-2")
    assert [p["name"] for p in both] == ["probe-1", "probe-2"]
    assert [p["name"] for p in probes(small + "/status?probe=probe-1,probe-2")] == [
        "probe-1",
        "probe-2",
    ]
    critical = probes(small + "/status?status=critical")
    assert [p["name"] for p in critical] == ["probe-2", "probe-6"]
    bad = probes(small + "/status?status=CRITICAL,UNKNOWN&probe=probe-3,probe-4,probe-6")
    assert [(p["name"], p["status"]) for p in bad] == [
        ("probe-3", "UNKNOWN"),
        ("probe-6", "CRITICAL"),
    ]
    assert probes(small + "/status?probe=nope") == []
    assert len(probes(small + "/status?_=12345")) == 8  # other parameters are ignored
    status, _, body = get(small + "/status?status=broken")
    assert status == 400
    assert body.startswith(b"unknown status 'BROKEN': use OK, WARNING, CRITICAL, UNKNOWN")


def test_a_probe_says_since_when_it_has_its_status(small: str) -> None:
    probe = probes(small + "/status?probe=probe-0")[0]
    assert probe["since"] == pytest.approx(time.time(), abs=60)
    assert 0 <= probe["status_seconds"] < 60


def test_many_clients_share_one_rendering(many: str) -> None:
    """Old: each of the 24 requests rendered 10,000 probes (0.2-0.5 s of CPU each)."""
    started = time.process_time()
    status, headers, body = get(many + "/status", **{"Accept-Encoding": "gzip"})
    one = time.process_time() - started
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(body))["probes"]) == MANY
    time.sleep(1.1)  # that rendering is now too old: the clients below need a new one
    failures: list[BaseException] = []

    def client() -> None:
        try:
            for _ in range(REQUESTS_EACH):
                _, _, body = get(many + "/status", **{"Accept-Encoding": "gzip"})
                assert len(gzip.decompress(body)) > MANY * 100
        except BaseException as error:
            failures.append(error)

    started, wall = time.process_time(), time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    spent, took = time.process_time() - started, time.monotonic() - wall
    assert not failures
    # The server rendered (and gzipped) once a second at most, instead of 24 times; the
    # clients' own reading and decompressing (about 10 ms a request) is in this figure too.
    renders = int(took / 1.0) + 1
    assert spent < one * renders + CLIENTS * REQUESTS_EACH * 0.03, (spent, one, took)
    filtered = get(many + "/status?status=critical&probe=probe-2,probe-3")[2]
    assert [p["name"] for p in json.loads(filtered)["probes"]] == ["probe-2"]


@given(st.text(max_size=200))
def test_any_query_is_a_filter_or_one_clear_error(query: str) -> None:
    try:
        parsed = parse_query(query)
    except ValueError as error:
        assert str(error).startswith("unknown status ")
        assert "\n" not in str(error)
    else:
        assert parsed.statuses is None or parsed.statuses <= set(Status.__members__)


def kib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def peak_growth_under_clients(results: Connection) -> None:
    """In a child of its own: how much the peak RSS grew (MiB) while 8 clients fetched /status
    of 10,000 probes three times each."""
    for url in served(filled_store(MANY)):
        get(url + "/metrics")
        before = kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here

        def client(url: str = url) -> None:
            for _ in range(REQUESTS_EACH):
                get(url + "/status", **{"Accept-Encoding": "gzip"})

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        results.send(kib("VmHWM") - before)


def test_many_clients_do_not_multiply_the_memory() -> None:
    """Old: 8 clients pushed the RSS of an exporter with 10,000 probes to 310 MB."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=peak_growth_under_clients, args=(sending,), daemon=True)
    child.start()
    assert receiving.poll(120), "the measuring child never reported"
    growth = receiving.recv()
    child.join(timeout=10)
    # One snapshot: 4 MiB of fragments, the body, its gzip; the clients' copies besides.
    assert growth < 40, f"peak RSS grew by {growth:.1f} MiB"
