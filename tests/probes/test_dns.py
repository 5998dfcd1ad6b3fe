"""The ``dns`` probe against a real dnsmasq on loopback (and a SERVFAIL upstream, a silent port)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dns.message
import dns.query
import dns.rcode
import pydantic
import pytest

from exporter.probe_api import Result, Status
from probes import dns as dns_probe
from tests.support.context import make_context
from tests.support.exporter_process import PORT_ATTEMPTS
from tests.support.timing import LOADED

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

pytestmark = pytest.mark.skipif(not Path(DNSMASQ).exists(), reason="needs Debian's dnsmasq")


def free_port() -> int:
    """A port free for both UDP and TCP a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return int(udp.getsockname()[1])


class ServfailServer:
    """A UDP nameserver that answers SERVFAIL to everything (dnsmasq's upstream for fail.test)."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = int(self.socket.getsockname()[1])
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, peer = self.socket.recvfrom(4096)
            except TimeoutError:
                continue
            response = dns.message.make_response(dns.message.from_wire(wire))
            response.set_rcode(dns.rcode.SERVFAIL)
            self.socket.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.socket.close()


def dnsmasq_arguments(port: int, upstream: int) -> list[str]:
    return [
        DNSMASQ,
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--pid-file=",
        "--user=root",
        "--cache-size=0",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--local=/test/",  # unknown names under .test: NXDOMAIN
        "--address=/site.test/10.0.0.1",
        "--host-record=lb.test,10.0.0.2",
        "--host-record=multi.test,10.0.0.3",
        "--host-record=multi.test,10.0.0.4",
        "--host-record=v6.test,fd00::1",
        "--cname=alias.test,lb.test",
        "--mx-host=mail.test,mx1.test,10",
        "--txt-record=txt.test,v=spf1 -all",
        f"--server=/fail.test/127.0.0.1#{upstream}",
    ]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a dnsmasq serving a small ``.test`` zone; stopped in teardown."""
    upstream = ServfailServer()
    log = tmp_path_factory.mktemp("dnsmasq") / "dnsmasq.log"
    try:
        # Another process (the other pytest worker's peers) may take the free port first.
        for attempt in range(PORT_ATTEMPTS):
            port = free_port()
            with log.open("wb") as output:
                process = subprocess.Popen(
                    dnsmasq_arguments(port, upstream.port), stdout=output, stderr=subprocess.STDOUT
                )
            try:
                wait_until_answering(port, process, log)
                break
            except RuntimeError:
                stop(process)
                if attempt == PORT_ATTEMPTS - 1 or "Address already in use" not in log.read_text():
                    raise
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stop(process)
    finally:
        upstream.close()


def wait_until_answering(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    query = dns.message.make_query("lb.test", "A")
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"dnsmasq exited: {log.read_text()}")
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.1)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"dnsmasq does not answer: {log.read_text()}")


@pytest.fixture
def silent_port() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a UDP socket that reads nothing and answers nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{silent.getsockname()[1]}"


async def run_probe(budget: float = 5.0, **fields: Any) -> Result:
    config = dns_probe.DnsProbe.model_validate({"name": "d", "kind": "dns", **fields})
    return await dns_probe.KIND.run(config, make_context(budget))


def answer_labels(result: Result) -> list[str]:
    return [s.labels[0] for s in result.samples if s.family == "site_status_dns_answer_info"]


def sample_value(result: Result, family: str) -> float:
    return next(s.value for s in result.samples if s.family == family)


# --- answers ------------------------------------------------------------------------------------


async def test_any_answer_is_ok(dnsmasq: str) -> None:
    result = await run_probe(server=dnsmasq, query="site.test")
    assert result.status is Status.OK
    assert result.summary == "answers 10.0.0.1"
    assert result.details["answers"] == ["10.0.0.1"]
    assert result.details["server"] == dnsmasq
    assert answer_labels(result) == ["10.0.0.1"]
    assert sample_value(result, "site_status_dns_answers") == 1
    assert 0 < sample_value(result, "site_status_dns_lookup_seconds") < LOADED


async def test_exactly_matches_the_set(dnsmasq: str) -> None:
    result = await run_probe(
        server=dnsmasq, query="multi.test", expect="exactly", addresses=["10.0.0.4", "10.0.0.3"]
    )
    assert result.status is Status.OK
    assert result.summary == "answers 10.0.0.3, 10.0.0.4"


async def test_exactly_with_another_answer_is_critical(dnsmasq: str) -> None:
    result = await run_probe(
        server=dnsmasq, query="lb.test", expect="exactly", addresses=["10.0.0.1"]
    )
    assert result.status is Status.CRITICAL
    assert result.summary == "answered 10.0.0.2, expected 10.0.0.1"
    assert answer_labels(result) == ["10.0.0.2"]


async def test_exactly_with_a_missing_answer_is_critical(dnsmasq: str) -> None:
    result = await run_probe(
        server=dnsmasq, query="lb.test", expect="exactly", addresses=["10.0.0.2", "10.0.0.9"]
    )
    assert result.status is Status.CRITICAL
    assert result.summary == "answered 10.0.0.2, expected 10.0.0.2, 10.0.0.9"


async def test_one_of_names_the_site_traffic_goes_to(dnsmasq: str) -> None:
    sites = {"10.0.0.1": "site A", "10.0.0.2": "site B"}
    result = await run_probe(server=dnsmasq, query="lb.test", expect="one_of", addresses=sites)
    assert result.status is Status.OK
    assert result.summary == "answers 10.0.0.2 (site B)"
    assert result.details["answers"] == ["10.0.0.2"]


async def test_one_of_with_an_answer_outside_the_set_is_critical(dnsmasq: str) -> None:
    sites = {"10.0.0.3": "site A", "10.0.0.9": "site B"}
    result = await run_probe(server=dnsmasq, query="multi.test", expect="one_of", addresses=sites)
    assert result.status is Status.CRITICAL
    assert result.summary == (
        "answered 10.0.0.3 (site A), 10.0.0.4, expected one of 10.0.0.3 (site A), 10.0.0.9 (site B)"
    )


async def test_answers_in_metric_are_sorted_and_capped(dnsmasq: str) -> None:
    result = await run_probe(server=dnsmasq, query="multi.test", max_answers_in_metric=1)
    assert answer_labels(result) == ["10.0.0.3"]
    assert sample_value(result, "site_status_dns_answers") == 2


@pytest.mark.parametrize(
    ("query", "record_type", "expected"),
    [
        ("v6.test", "AAAA", "fd00::1"),
        ("alias.test", "CNAME", "lb.test"),
        ("alias.test", "A", "10.0.0.2"),
        ("mail.test", "MX", "mx1.test"),
        ("txt.test", "TXT", "v=spf1 -all"),
    ],
)
async def test_record_types(dnsmasq: str, query: str, record_type: str, expected: str) -> None:
    result = await run_probe(
        server=dnsmasq,
        query=query,
        record_type=record_type,
        expect="exactly",
        addresses=[expected.upper() if record_type in ("CNAME", "MX") else expected],
    )
    assert result.status is Status.OK, result.summary
    assert result.details["answers"] == [expected]


# --- failures -----------------------------------------------------------------------------------


async def test_nxdomain_is_critical(dnsmasq: str) -> None:
    result = await run_probe(server=dnsmasq, query="missing.test")
    assert result.status is Status.CRITICAL
    assert result.summary == "cannot resolve missing.test: no such name (NXDOMAIN)"
    assert sample_value(result, "site_status_dns_answers") == 0
    assert answer_labels(result) == []


async def test_no_aaaa_record_is_critical(dnsmasq: str) -> None:
    result = await run_probe(server=dnsmasq, query="lb.test", record_type="AAAA")
    assert result.status is Status.CRITICAL
    assert result.summary == "no AAAA record for lb.test"


async def test_servfail_is_critical(dnsmasq: str) -> None:
    result = await run_probe(server=dnsmasq, query="www.fail.test")
    assert result.status is Status.CRITICAL
    assert result.summary == f"SERVFAIL from {dnsmasq}"


async def test_refused_is_critical(dnsmasq: str) -> None:
    result = await run_probe(server=dnsmasq, query="www.example.org")
    assert result.status is Status.CRITICAL
    assert result.summary == f"REFUSED from {dnsmasq}"


async def test_silent_server_times_out_within_the_budget(silent_port: str) -> None:
    started = time.monotonic()
    result = await run_probe(budget=0.5, server=silent_port, query="site.test")
    assert time.monotonic() - started < 0.5 + LOADED
    assert result.status is Status.CRITICAL
    assert result.summary == f"timed out after 0.5s waiting for an answer from {silent_port}"
    assert "site_status_dns_lookup_seconds" not in {s.family for s in result.samples}


# --- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "normalized"),
    [
        ("127.0.0.1", "127.0.0.1:53"),
        ("127.0.0.1:5353", "127.0.0.1:5353"),
        ("::1", "[::1]:53"),
        ("[::1]:5353", "[::1]:5353"),
    ],
)
def test_server_forms(server: str, normalized: str) -> None:
    config = dns_probe.DnsProbe.model_validate(
        {"name": "d", "kind": "dns", "query": "x.test", "server": server}
    )
    assert config.server == normalized


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"server": "ns.example.org"}, "server must be an IP address"),
        ({"server": "127.0.0.1:0"}, "invalid port"),
        ({"expect": "exactly"}, "expect: exactly needs addresses"),
        ({"expect": "one_of"}, "expect: one_of needs addresses"),
        ({"addresses": ["10.0.0.1"]}, "only with expect: exactly or one_of"),
        ({"expect": "exactly", "addresses": ["lb.test"]}, "is not an IP address"),
        ({"expect": "exactly", "addresses": ["::1"]}, "is not an IPv4 address"),
        ({"record_type": "SRV"}, "record_type"),
        ({"query": ""}, "query"),
    ],
)
def test_invalid_config(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        dns_probe.DnsProbe.model_validate({"name": "d", "kind": "dns", "query": "x", **fields})


def test_addresses_are_compared_in_canonical_form() -> None:
    config = dns_probe.DnsProbe.model_validate(
        {
            "name": "d",
            "kind": "dns",
            "query": "x",
            "record_type": "AAAA",
            "expect": "one_of",
            "addresses": {"FD00:0::1": "site A"},
        }
    )
    assert config.addresses == ("fd00::1",)
    assert config.address_labels == {"fd00::1": "site A"}


def test_kind_declares_its_name_and_series() -> None:
    assert dns_probe.KIND.name == "dns"
    assert [(f.name, f.labels) for f in dns_probe.KIND.metrics] == [
        ("site_status_dns_answer_info", ("address",)),
        ("site_status_dns_lookup_seconds", ()),
        ("site_status_dns_answers", ()),
    ]


def test_importing_the_kind_does_not_import_dnspython() -> None:
    code = (
        "import sys, probes.dns, probes.tcp, probes.tls\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dns'))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=REPO
    )
    assert found.stdout.strip() == "[]"
