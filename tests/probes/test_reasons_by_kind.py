"""Each kind says why it is not OK in the bounded vocabulary (docs/reasons.md), on real peers.

The mount, disk and file kinds' stale, hung, full and not-mounted cases are checked in their own
tests (FUSE and tmpfs mounts); here: http (a local server, refused, stalled, TLS), tcp, dns,
file, load and drupal (the drush stand-in).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from exporter.probe_api import Reason, Result, Status
from probes import dns as dns_probe
from probes import file as file_probe
from probes import tcp as tcp_probe
from tests.probes.test_drupal import FIXTURES, fixture_env, run_probe
from tests.probes.test_drupal import probe as drupal_probe
from tests.probes.test_http import probe, run, tls_context
from tests.probes.test_load import HostTree
from tests.probes.test_load import probe as load_probe
from tests.support.context import make_context
from tests.support.dead_peers import closed_port
from tests.support.http_server import MisbehavingServer, misbehaving_server

HEALTH_JSON = "application/health+json"
#: A Drupal site whose database is down, as the fleet simulation's shared-database scene
#: serves it (tools/fleet/configs.py): the IETF draft's "component:measurement" keys.
DATABASE_DOWN = {
    "status": "fail",
    "checks": {
        "database:connection": [{"status": "fail", "output": "SQLSTATE[HY000] [2002]"}],
        "app:responding": [{"status": "pass"}],
    },
}


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with misbehaving_server() as running:
        yield running


def why(result: Result) -> tuple[Status, Reason | None, str]:
    return result.status, result.why, result.part


async def test_http_reasons(server: MisbehavingServer) -> None:
    server.route("/db", status=503, body=json.dumps(DATABASE_DOWN), content_type=HEALTH_JSON)
    server.route("/plain503", status=503, body="Service Unavailable")
    server.route("/stall", behaviour="stall_after_headers", body=b"")
    server.route("/ok", body="iamalive")
    server.route("/words", body="maintenance mode")
    cases = {
        "/db": (Status.CRITICAL, Reason.COMPONENT, "database:connection"),
        "/plain503": (Status.CRITICAL, Reason.HTTP_STATUS, ""),
        "/stall": (Status.CRITICAL, Reason.TIMEOUT, ""),
        "/ok": (Status.OK, None, ""),
    }
    for path, expected in cases.items():
        # Short only for the stall: the first run imports httpx and builds a TLS context,
        # which took over a second on a loaded machine (and the run's clock counts it).
        timeout = 1.0 if path == "/stall" else 10.0
        assert why(await run(probe(server.url(path)), timeout=timeout)) == expected, path
    body = probe(server.url("/words"), body_must_match=["iamalive"])
    assert why(await run(body)) == (Status.CRITICAL, Reason.BODY, "")
    refused = probe(f"http://127.0.0.1:{closed_port()}/healthz")
    assert why(await run(refused)) == (Status.CRITICAL, Reason.REFUSED, "")
    unresolved = probe("http://no-such-host.invalid/healthz")
    assert why(await run(unresolved)) == (Status.CRITICAL, Reason.DNS, "")


async def test_http_tls_reasons(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with misbehaving_server(tls_context(ca, "127.0.0.1", days=3)) as expiring:
        expiring.route("/h", body='{"status":"pass"}', content_type=HEALTH_JSON)
        result = await run(probe(expiring.url("/h"), ca_file=str(ca_path)))
        assert why(result) == (Status.CRITICAL, Reason.CERT_EXPIRY, "")
    with misbehaving_server(tls_context(ca, "other.example", days=90)) as wrong_host:
        wrong_host.route("/h", body="ok")
        result = await run(probe(wrong_host.url("/h"), ca_file=str(ca_path)))
        assert why(result) == (Status.CRITICAL, Reason.TLS, "")


async def test_tcp_and_dns_reasons() -> None:
    def tcp(**fields: object) -> tcp_probe.TcpProbe:
        return tcp_probe.TcpProbe.model_validate({"name": "t", "kind": "tcp", **fields})

    refused = await tcp_probe.run(tcp(host="127.0.0.1", port=closed_port()), make_context(2))
    assert why(refused) == (Status.CRITICAL, Reason.REFUSED, "")
    unresolved = await tcp_probe.run(tcp(host="no-such-host.invalid", port=80), make_context(2))
    assert why(unresolved) == (Status.CRITICAL, Reason.DNS, "")
    # A nameserver that never answers: a UDP socket nobody reads.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        config = dns_probe.DnsProbe.model_validate(
            {"name": "d", "kind": "dns", "query": "example.org", "server": f"127.0.0.1:{port}"}
        )
        result = await dns_probe.run(config, make_context(0.5))
    assert why(result) == (Status.CRITICAL, Reason.TIMEOUT, "")


async def test_file_reasons(tmp_path: Path) -> None:
    def file(**fields: object) -> file_probe.FileProbe:
        return file_probe.FileProbe.model_validate({"name": "f", "kind": "file", **fields})

    stamp = tmp_path / "cron-stamp"
    stamp.write_text("x")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(stamp, (three_hours_ago, three_hours_ago))
    old = await file_probe.run(file(path=str(stamp), max_age="1h"), make_context())
    assert why(old) == (Status.CRITICAL, Reason.AGE, "")
    small = await file_probe.run(file(path=str(stamp), min_size="1KiB"), make_context())
    assert why(small) == (Status.CRITICAL, Reason.SIZE, "")
    gone = await file_probe.run(file(path=str(tmp_path / "gone")), make_context())
    assert why(gone) == (Status.CRITICAL, Reason.MISSING, "")


async def test_load_reason(tmp_path: Path) -> None:
    tree = HostTree(tmp_path).host(loadavg="40.00 40.00 40.00 1/200 4242")
    result = await tree.run(load_probe(per_cpu=False, load5={"warning": 1, "critical": 100}))
    assert why(result) == (Status.WARNING, Reason.LOAD, "")


async def test_drupal_reasons(tmp_path: Path) -> None:
    requirements = await run_probe(drupal_probe())
    # drush13-requirements.json: errors cron, update_core, trusted_host_patterns (in that order).
    assert why(requirements) == (Status.CRITICAL, Reason.REQUIREMENT, "cron")
    stderr = tmp_path / "no-database.stderr"
    # What Drush 12 prints when MariaDB refuses (the fleet's shared-database scene).
    stderr.write_text(
        "In Connection.php line 79:\n\n  SQLSTATE[HY000] [2002] Connection refused\n\n"
    )
    failed = await run_probe(
        drupal_probe(fixture_env(DRUSH_STANDIN_MODE="fail", DRUSH_STANDIN_STDERR=str(stderr)))
    )
    assert why(failed) == (Status.CRITICAL, Reason.DRUSH, "SQLSTATE[HY000] [2002]")
    garbage = await run_probe(drupal_probe(fixture_env(requirements="garbage.txt")))
    assert why(garbage) == (Status.CRITICAL, Reason.DRUSH, "")
    assert (FIXTURES / "garbage.txt").is_file()
