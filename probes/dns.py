"""The ``dns`` probe kind: a name resolves, and to the expected addresses.

``expect: any`` needs at least one answer; ``exactly`` needs the answers to be the set of
``addresses``; ``one_of`` needs every answer to be one of ``addresses``: the check for "which
site does the global load balancer send traffic to", so the answer is in the summary, with its
label when ``addresses`` is a mapping (``{10.0.0.1: site A, 10.0.0.2: site B}``).

``server`` is an IP address with an optional port (``127.0.0.1:5353``, ``[::1]:5353``); without
it the system resolver configuration (``/etc/resolv.conf``) is used. Answers are compared as
text: IP addresses in canonical form, names lower case without the final dot, MX as the
exchange, TXT as the joined strings. dnspython is imported only when a dns probe runs.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import Field, ValidationInfo, field_validator, model_validator

from exporter.failure_text import cannot_resolve, timed_out
from exporter.probe_api import (
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Reason,
    Result,
    Sample,
    Status,
)
from probes.deadline import own_budget

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver
    from dns.rdata import Rdata

ANSWER_INFO = MetricFamily(
    "site_status_dns_answer_info",
    "1 for each address (or name) answered, sorted, at most max_answers_in_metric of them.",
    labels=("address",),
)
LOOKUP = MetricFamily("site_status_dns_lookup_seconds", "Seconds the DNS lookup took.")
ANSWERS = MetricFamily("site_status_dns_answers", "Number of records in the DNS answer.")

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]
#: Answers listed in a summary before ``+N more``.
SUMMARY_ANSWERS = 5
#: Longer answers (TXT) are cut to this many characters in the metric label.
MAX_LABEL = 200


class DnsProbe(ProbeConfig):
    """A DNS query and what its answer must be."""

    kind: Literal["dns"]
    query: str = Field(min_length=1, max_length=253)
    record_type: RecordType = "A"
    server: str | None = None
    expect: Literal["any", "exactly", "one_of"] = "any"
    addresses: tuple[str, ...] = ()
    #: Names for addresses in summaries; set by writing ``addresses`` as a mapping.
    address_labels: dict[str, str] = Field(default_factory=dict)
    max_answers_in_metric: int = Field(default=10, ge=0, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _addresses_may_be_a_mapping(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("addresses"), Mapping):
            labels = {str(k): str(v) for k, v in data["addresses"].items()}
            return {**data, "addresses": tuple(labels), "address_labels": labels}
        return data

    @field_validator("server")
    @classmethod
    def _server_is_an_address(cls, server: str | None) -> str | None:
        if server is not None:
            host, port = parse_server(server)
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return server

    @field_validator("addresses")
    @classmethod
    def _addresses_in_answer_form(
        cls, addresses: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        record_type = info.data.get("record_type", "A")
        return tuple(dict.fromkeys(normalized_expected(a, record_type) for a in addresses))

    @field_validator("address_labels")
    @classmethod
    def _labels_in_answer_form(cls, labels: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        record_type = info.data.get("record_type", "A")
        return {normalized_expected(a, record_type): label for a, label in labels.items()}

    @model_validator(mode="after")
    def _addresses_fit_expect(self) -> DnsProbe:
        if self.expect != "any" and not self.addresses:
            raise ValueError(f"expect: {self.expect} needs addresses")
        if self.expect == "any" and self.addresses:
            raise ValueError("addresses are used only with expect: exactly or one_of")
        unknown = sorted(set(self.address_labels) - set(self.addresses))
        if unknown:
            raise ValueError(f"address_labels for addresses not listed: {', '.join(unknown)}")
        return self


def parse_server(server: str) -> tuple[str, int]:
    """(IP, port) from ``127.0.0.1``, ``127.0.0.1:5353``, ``::1`` or ``[::1]:5353``."""
    text = server.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid server {server!r}: use IP, IP:port or [IPv6]:port")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        message = f"server must be an IP address (with optional :port), got {server!r}"
        raise ValueError(message) from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"invalid port in server {server!r}")
    return str(address), int(port)


def normalized_expected(address: str, record_type: RecordType) -> str:
    """An expected answer in the form answers are compared in; IPs must be of the right family."""
    if record_type in ("A", "AAAA"):
        try:
            parsed = ipaddress.ip_address(address.strip())
        except ValueError:
            raise ValueError(f"{address!r} is not an IP address") from None
        version = 4 if record_type == "A" else 6
        if parsed.version != version:
            raise ValueError(
                f"{address!r} is not an IPv{version} address (record_type {record_type})"
            )
        return str(parsed)
    if record_type == "TXT":
        return address
    return normalized_name(address)


def normalized_name(name: str) -> str:
    return name.strip().rstrip(".").lower()


# --- the lookup ---------------------------------------------------------------------------------


async def run(config: DnsProbe, context: ProbeContext) -> Result:
    import dns.exception
    import dns.resolver

    details: dict[str, Any] = {
        "query": config.query,
        "record_type": config.record_type,
        "server": config.server or "system",
    }
    started = time.perf_counter()
    # The one wording of a timeout (exporter.failure_text), the server named.
    timeout = timed_out(context.timeout, "waiting for an answer from", server_name(config)).text
    try:
        # dnspython's lifetime overshoots by its retry backoff: the scope ends the lookup on time.
        budget = own_budget(context)
        with anyio.fail_after(budget):
            answer = await lookup(config, max(0.001, budget))
    except TimeoutError:
        return failed(timeout, details, why=Reason.TIMEOUT)
    except dns.resolver.NXDOMAIN:
        nxdomain = cannot_resolve(config.query, "no such name (NXDOMAIN)").text
        return failed(nxdomain, details, time.perf_counter() - started)
    except dns.resolver.NoAnswer:
        reason = f"no {config.record_type} record for {config.query}"
        return failed(reason, details, time.perf_counter() - started)
    except dns.resolver.NoNameservers as error:
        return failed(nameserver_failure(error), details)
    except dns.resolver.YXDOMAIN:
        return failed(f"YXDOMAIN for {config.query}", details)
    except dns.exception.Timeout:
        return failed(timeout, details, why=Reason.TIMEOUT)
    except dns.resolver.NoResolverConfiguration as error:
        summary = f"no resolver configured: {error}"
        return Result(Status.UNKNOWN, summary, details, reason=Reason.ERROR)
    seconds = time.perf_counter() - started
    answers = sorted({answer_text(rdata, config.record_type) for rdata in answer})
    details |= {"answers": answers, "lookup_seconds": round(seconds, 6), "ttl": ttl(answer)}
    status, summary = graded(config, answers)
    return Result(status, summary, details, samples(config, answers, seconds), reason=Reason.DNS)


def server_name(config: DnsProbe) -> str:
    """``127.0.0.1:5353``, or the resolvers of ``/etc/resolv.conf``."""
    return config.server or "the system resolver"


def ttl(answer: dns.resolver.Answer) -> int | None:
    return answer.rrset.ttl if answer.rrset is not None else None


async def lookup(config: DnsProbe, lifetime: float) -> dns.resolver.Answer:
    return await resolver_for(config.server).resolve(
        config.query, config.record_type, lifetime=lifetime, search=False
    )


def resolver_for(server: str | None) -> dns.asyncresolver.Resolver:
    """The system resolver, or one asking only ``server`` (no ``/etc/resolv.conf`` read)."""
    import dns.asyncresolver

    if server is None:
        return dns.asyncresolver.Resolver()
    host, port = parse_server(server)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    return resolver


def nameserver_failure(error: dns.resolver.NoNameservers) -> str:
    """``SERVFAIL from 127.0.0.1:5353``: what each nameserver said (an rcode or an error)."""
    reasons: dict[str, None] = {}
    for server, _tcp, port, problem, *_ in error.kwargs.get("errors", []):
        said = problem if isinstance(problem, str) else str(problem) or type(problem).__name__
        reasons[f"{said} from {server_text(server, port)}"] = None
    return "; ".join(reasons) or "no nameserver answered"


def server_text(server: str | None, port: int) -> str:
    """``127.0.0.1:5353`` from dnspython's ``Do53:127.0.0.1@5353``."""
    address = (server or "?").removeprefix("Do53:").rsplit("@", 1)[0]
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def answer_text(rdata: Rdata, record_type: RecordType) -> str:
    """One record in the form expected addresses are written in."""
    if record_type in ("A", "AAAA"):
        return str(ipaddress.ip_address(rdata.to_text()))
    if record_type == "TXT":
        return b"".join(getattr(rdata, "strings", ())).decode(errors="replace")
    if record_type == "MX":
        return normalized_name(str(getattr(rdata, "exchange", rdata)))
    return normalized_name(rdata.to_text())


def failed(
    reason: str, details: dict[str, Any], seconds: float | None = None, why: Reason = Reason.DNS
) -> Result:
    """A CRITICAL result; an answered query (NXDOMAIN, no record) still has its lookup time."""
    out: list[Sample] = [Sample(ANSWERS.name, 0.0)]
    if seconds is not None:
        details["lookup_seconds"] = round(seconds, 6)
        out.append(Sample(LOOKUP.name, seconds))
    return Result(Status.CRITICAL, reason, details, tuple(out), reason=why)


# --- grading ------------------------------------------------------------------------------------


def graded(config: DnsProbe, answers: list[str]) -> tuple[Status, str]:
    """The status and summary for the answers of a successful lookup."""
    answered = listed(answers, config.address_labels)
    if config.expect == "exactly" and set(answers) != set(config.addresses):
        expected = listed(sorted(config.addresses), config.address_labels)
        return Status.CRITICAL, f"answered {answered}, expected {expected}"
    if config.expect == "one_of":
        unexpected = [a for a in answers if a not in config.addresses]
        if unexpected:
            expected = listed(sorted(config.addresses), config.address_labels)
            return Status.CRITICAL, f"answered {answered}, expected one of {expected}"
    return Status.OK, f"answers {answered}"


def listed(answers: list[str], labels: Mapping[str, str]) -> str:
    """``10.0.0.1 (site A), 10.0.0.2`` with at most a few shown, then ``+N more``."""
    shown = [labelled(a, labels) for a in answers[:SUMMARY_ANSWERS]]
    more = len(answers) - len(shown)
    return ", ".join(shown) + (f" +{more} more" if more > 0 else "")


def labelled(answer: str, labels: Mapping[str, str]) -> str:
    # TXT answers are any bytes: control characters (a newline) are shown escaped, on one line.
    quoted = '"' in answer or " " in answer or not answer.isprintable()
    text = repr(answer) if quoted else answer
    label = labels.get(answer)
    return f"{text} ({label})" if label else text


def samples(config: DnsProbe, answers: list[str], seconds: float) -> tuple[Sample, ...]:
    shown = answers[: config.max_answers_in_metric]
    info = [Sample(ANSWER_INFO.name, 1.0, (a[:MAX_LABEL],)) for a in shown]
    return (Sample(LOOKUP.name, seconds), Sample(ANSWERS.name, float(len(answers))), *info)


KIND = ProbeKind(config=DnsProbe, run=run, metrics=(ANSWER_INFO, LOOKUP, ANSWERS))
