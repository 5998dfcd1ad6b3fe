"""Property tests of the parsers of outside input the machine probes read: drush's output, the
mount table, DNS answers (the hypothesis profile is in tests/conftest.py).

Each property: on any input, a graded result or the parser's own clear error, never another
exception, within the example deadline.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import dns.message
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exporter.command_runners import CommandOutput
from exporter.mounts import MountTable, parse_mountinfo, parse_mountinfo_line
from exporter.status import Status
from probes import dns as dns_probe
from probes.drupal.drush_requirements import (
    DESCRIPTION_CAP,
    TITLE_CAP,
    VALUE_CAP,
    NoRequirementsJson,
    parse_requirements,
)
from probes.drupal.drush_status import NoStatusJson, status_fields
from probes.drupal.failure import first_cause, never_a_cause
from probes.drupal.probe import DrupalProbe, parsed_and_graded
from tests.support.context import make_context

# --- drush output ------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["Error", "warning", "OK", "Info", "2", "-1", "REQUIREMENT_ERROR", "<b>x</b>"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
ROW_FIELDS = st.sampled_from(["title", "value", "description", "sid", "severity", "id", "name"])
ROWS = st.dictionaries(ROW_FIELDS, JSON_VALUES, max_size=6)
DOCUMENTS = st.one_of(
    st.dictionaries(st.text(max_size=20), ROWS, max_size=8),
    st.lists(ROWS, max_size=8),
    JSON_VALUES,
)
NOISE = st.lists(
    st.one_of(
        st.text(max_size=60).filter(lambda line: "\n" not in line),
        st.sampled_from(
            [
                "PHP Deprecated:  Return type of Foo::bar() should be compatible",
                " [warning] Undefined array key",
                "[2021-02-10 15:56:17] system.INFO: installed. [] {}",
                "[",
                "{",
            ]
        ),
    ),
    max_size=4,
)


@st.composite
def drush_stdout(draw: st.DrawFn) -> bytes:
    before, after = draw(NOISE), draw(NOISE)
    document = json.dumps(draw(DOCUMENTS), indent=draw(st.sampled_from([None, 4])))
    if draw(st.booleans()):  # cut, as a capped or killed output is
        document = document[: draw(st.integers(min_value=0, max_value=len(document)))]
    text = "\n".join([*before, document, *after])
    return text.encode("utf-8", errors="surrogatepass")


#: Nesting deeper than json's decoder recurses (RecursionError, not ValueError).
DEEP = st.builds(
    lambda n, opener: opener * n, st.integers(900, 3000), st.sampled_from([b"[", b'{"a":'])
)


@given(drush_stdout() | st.binary(max_size=2000) | DEEP)
def test_drush_requirements_parse_or_say_there_are_none(stdout: bytes) -> None:
    try:
        parsed = parse_requirements(stdout)
    except NoRequirementsJson:
        return
    for row in parsed.rows:
        assert row.sid in (-1, 0, 1, 2)
        assert len(row.title) <= TITLE_CAP and len(row.value) <= VALUE_CAP
        assert len(row.description) <= DESCRIPTION_CAP
        assert "\n" not in row.id + row.title + row.value + row.description


CONFIG = DrupalProbe.model_validate({"name": "site", "kind": "drupal"})


@given(
    drush_stdout() | st.binary(max_size=500) | DEEP,
    st.binary(max_size=500) | st.text(max_size=300).map(str.encode),
    st.sampled_from([0, 1, 255]),
)
@example(b'{"\\n": {"sid": []}}', b"", 0)  # found by this property: a newline as a requirement id
def test_any_drush_run_is_graded_in_one_short_line(stdout: bytes, stderr: bytes, code: int) -> None:
    output = CommandOutput(exit_code=code, stdout=stdout, stderr=stderr, duration=1.0)
    result = parsed_and_graded(CONFIG, output, 100.0, [], {})
    assert isinstance(result.status, Status)
    assert result.summary and "\n" not in result.summary and len(result.summary) <= 300
    if code != 0:
        assert result.status is Status.CRITICAL


FAILURE_LINES = st.sampled_from(
    [
        "#3 /var/www/includes/database.inc(1535): Database::openConnection('default')",
        "See http://drupal.org/node/1428638 for details.",
        "Drush command terminated abnormally due to an unrecoverable error.   [error]",
        "PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted",
        "In BootstrapHook.php line 32:",
        "  [Exception]",
        "Stack trace:",
        "exception 'PDOException' with message 'SQLSTATE[HY000] [2002]' in     [error]",
        " [error]  TypeError: str_replace(): Argument #3 ($subject) must be of type",
    ]
)


@given(st.lists(FAILURE_LINES | st.text(max_size=80), max_size=12).map("\n".join))
def test_the_cause_of_a_failure_is_one_line_and_never_a_frame_or_a_pointer(text: str) -> None:
    found = first_cause(text)
    assert found is None or ("\n" not in found and found.strip() == found and found)
    assert found is None or not never_a_cause(found)


@given(drush_stdout() | st.binary(max_size=500) | DEEP)
def test_drush_status_parses_or_says_there_is_none(stdout: bytes) -> None:
    try:
        fields = status_fields(stdout)
    except NoStatusJson:
        return
    assert all(isinstance(value, str) and len(value) <= 100 for value in fields.values())
    assert not any("pass" in key for key in fields)


# --- the mount table ---------------------------------------------------------------------------

#: Characters a mount point may hold; space, tab, newline and backslash are escaped by the kernel.
PATH_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00/"), min_size=1, max_size=8
)


def kernel_escaped(text: str) -> str:
    """How the kernel writes a name in mountinfo (fs/proc_namespace.c: mangle)."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in text)


@st.composite
def mount_points(draw: st.DrawFn) -> str:
    return "/" + "/".join(draw(st.lists(PATH_TEXT, min_size=0, max_size=4)))


@st.composite
def mountinfo_lines(draw: st.DrawFn) -> tuple[str, str, str]:
    point = draw(mount_points())
    source = draw(st.sampled_from(["", "/dev/sda1", "tmpfs", "//nas/share\\040x", "server:/srv"]))
    fstype = draw(st.sampled_from(["ext4", "nfs4", "tmpfs", "fuse.sshfs", "overlay", "cifs"]))
    optional = draw(st.sampled_from(["", "shared:1 ", "shared:1 master:2 "]))
    options = draw(st.sampled_from(["rw,relatime", "ro", "rw,nosuid,nodev"]))
    line = (
        f"{draw(st.integers(1, 9999))} 1 0:{draw(st.integers(0, 999))} / "
        f"{kernel_escaped(point)} {options} {optional}- {fstype} {source} rw,size=1k"
    )
    return line, point, fstype


@given(st.lists(mountinfo_lines(), max_size=20))
def test_kernel_written_lines_read_back_as_written(lines: list[tuple[str, str, str]]) -> None:
    mounts = parse_mountinfo("\n".join(line for line, _, _ in lines))
    assert [(m.mountpoint, m.fstype) for m in mounts] == [(p, f) for _, p, f in lines]
    MountTable(mounts)  # and the table builds


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_text_is_a_table_or_skipped_lines(text: str) -> None:
    mounts = parse_mountinfo(text)
    assert len(mounts) <= text.count("\n") + 1
    for line in text.split("\n"):
        parse_mountinfo_line(line)


# --- DNS answers ---------------------------------------------------------------------------------


@st.composite
def rdatas(draw: st.DrawFn) -> tuple[str, list[dns.rdata.Rdata]]:
    record_type = draw(st.sampled_from(["A", "AAAA", "CNAME", "MX", "TXT", "NS"]))
    texts: list[str]
    if record_type == "A":
        texts = [str(ipaddress.IPv4Address(n)) for n in draw(st.lists(st.integers(0, 2**32 - 1)))]
    elif record_type == "AAAA":
        texts = [str(ipaddress.IPv6Address(n)) for n in draw(st.lists(st.integers(0, 2**128 - 1)))]
    elif record_type == "TXT":
        strings = st.binary(max_size=40).map(lambda b: '"' + "".join(f"\\{c:03d}" for c in b) + '"')
        texts = draw(st.lists(strings, max_size=5))
    else:
        labels = st.text("abcxyz019-", min_size=1, max_size=10).filter(lambda s: s[0] != "-")
        names = st.lists(labels, min_size=1, max_size=3).map(lambda ls: ".".join(ls) + ".")
        prefix = "10 " if record_type == "MX" else ""
        texts = [prefix + name for name in draw(st.lists(names, max_size=5))]
    rdtype = dns.rdatatype.from_text(record_type)
    return record_type, [dns.rdata.from_text(dns.rdataclass.IN, rdtype, t) for t in texts]


NEWLINE_TXT = ("TXT", [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, '"\\010"')])


@given(rdatas(), st.sampled_from(["any", "exactly", "one_of"]))
@example(NEWLINE_TXT, "any")  # found by this property: a TXT answer with a newline in it
def test_any_answer_is_graded(answer: tuple[str, list[dns.rdata.Rdata]], expect: str) -> None:
    record_type, records = answer
    fields: dict[str, Any] = {"name": "d", "kind": "dns", "query": "x.test"}
    fields |= {"record_type": record_type, "expect": expect}
    if expect != "any":
        fields["addresses"] = ["192.0.2.1"] if record_type == "A" else ["2001:db8::1"]
        if record_type not in ("A", "AAAA"):
            fields["addresses"] = ["mail.example"]
    config = dns_probe.DnsProbe.model_validate(fields)
    texts = sorted({dns_probe.answer_text(r, record_type) for r in records})  # type: ignore[arg-type]
    status, summary = dns_probe.graded(config, texts)
    assert status in (Status.OK, Status.CRITICAL) and "\n" not in summary
    samples = dns_probe.samples(config, texts, 0.01)
    assert all(len(s.labels[0]) <= dns_probe.MAX_LABEL for s in samples if s.labels)


class FuzzingNameserver:
    """A UDP nameserver answering each query with the next reply a test sets: any bytes, or a
    real answer whose bytes were changed. A faithful peer for what a broken server can send."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.port = int(self.socket.getsockname()[1])
        self.reply: Any = b""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                wire, peer = self.socket.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            reply = self.reply(wire) if callable(self.reply) else self.reply
            self.socket.sendto(reply, peer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        self.socket.close()


@pytest.fixture(scope="module")
def nameserver() -> Iterator[FuzzingNameserver]:
    server = FuzzingNameserver()
    try:
        yield server
    finally:
        server.close()


def mutated_answer(flips: list[tuple[int, int]]) -> Any:
    def reply(wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.answer.append(
            dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.10")
        )
        data = bytearray(response.to_wire())
        for offset, value in flips:
            data[offset % len(data)] = value
        return bytes(data)

    return reply


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.lists(st.tuples(st.integers(0, 511), st.integers(0, 255)), min_size=1, max_size=6).map(
            mutated_answer
        ),
    )
)
def test_whatever_a_nameserver_sends_is_graded(nameserver: FuzzingNameserver, reply: Any) -> None:
    nameserver.reply = reply
    config = dns_probe.DnsProbe.model_validate(
        {"name": "d", "kind": "dns", "query": "site.test", "server": f"127.0.0.1:{nameserver.port}"}
    )

    async def probe() -> None:
        result = await dns_probe.run(config, make_context(0.2))
        assert result.status in (Status.OK, Status.CRITICAL, Status.UNKNOWN)
        assert result.summary and "\n" not in result.summary

    anyio.run(probe)
