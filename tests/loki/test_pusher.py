"""The Loki sink against the strict protocol double: labels, timestamps, batching, answers."""

from __future__ import annotations

import base64
import itertools
import logging
import ssl
import time
from pathlib import Path
from typing import Any

import pydantic
import pytest
import trustme

from exporter.config import Site
from exporter.registry import default_registry
from exporter.reports.delivery_checks import report_checks
from exporter.reports.loki.batch import push_body
from exporter.reports.loki.streams import LABEL_NAMES, cut_utf8, report_labels
from exporter.reports.stats import ReportStats
from exporter.status import Status
from exporter.web.metrics import SelfMetrics
from tests.loki.conftest import SinkFactory, eventually, running, snapshot, transition
from tests.support.loki_double import LokiDouble, loki_double
from tests.support.reports import validate_report


def per_stream(double: LokiDouble) -> dict[tuple[tuple[str, str], ...], list[int]]:
    streams: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for entry in double.stored():
        streams.setdefault(entry.labels, []).append(entry.timestamp)
    return streams


async def test_reports_arrive_with_fixed_labels_and_increasing_timestamps(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    same_moment = time.time()
    reports = [
        transition(f"probe-{i}", kind, Status.CRITICAL, Status.OK, observed=same_moment)
        for i in range(20)
        for kind in ("http", "file")
    ] + [snapshot(observed=same_moment) for _ in range(3)]
    sink = make_sink(double.url)
    async with running(sink):
        await sink.submit(reports)
        await eventually(lambda: len(double.stored()) == len(reports))
        await eventually(lambda: sink.spool.pending == 0)
    for entry in double.stored():
        assert set(entry.stream) <= set(LABEL_NAMES)
        assert entry.stream["job"] == "site-status"
        assert entry.stream["site"] == "shop"
        validate_report(entry.report())
    # Ties at the same observed moment are broken by 1 ns, in queue order, per stream.
    for stamps in per_stream(double).values():
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert {e.stream["report_type"] for e in double.stored()} == {"transition", "snapshot"}
    # One request, grouped by stream: all http transitions, then all file ones, then snapshots.
    first = double.answered()[0].entries
    streams = [e.labels for e in first]
    assert streams == sorted(streams, key=streams.index)
    assert len(set(streams)) == 2
    assert all(r.headers["content-encoding"] == "gzip" for r in double.answered())
    assert not double.duplicates
    assert sink.loki.pushed == len(reports)
    assert sink.loki.queued == 0


async def test_batches_by_size_and_time_grouped_by_stream(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    sink = make_sink(double.url, batch_max_bytes="8KiB", batch_max_wait="400ms")
    async with running(sink):
        started = time.monotonic()
        await sink.submit([transition("lonely")])
        await eventually(lambda: double.stored())
        waited = time.monotonic() - started
        assert waited >= 0.35, "a lone report waits for batch_max_wait"
        many = [
            transition(f"p{i}", details={"x": "y" * 900}) if i % 2 else snapshot(30)
            for i in range(40)
        ]
        await sink.submit(many)
        await eventually(lambda: len(double.stored()) == 41)
    requests = [r for r in double.answered() if r.status == 204]
    assert len(requests) >= 5, "40 reports of ~1.3 KB do not fit in one 8 KiB batch"
    for request in requests[1:]:
        # One batch of the two streams: each stream's entries are grouped, in order.
        types = [e.stream["report_type"] for e in request.entries]
        assert types == sorted(types, key=types.index)
        assert sum(len(e.line) for e in request.entries) <= 8 * 1024 + 2000


async def test_structured_metadata_is_optional(make_sink: SinkFactory, tmp_path: Path) -> None:
    with loki_double() as double:
        sink = make_sink(double.url, structured_metadata=True)
        async with running(sink):
            await sink.submit([transition("meta", previous=None)])
            await eventually(lambda: double.stored())
        metadata = dict(double.stored()[0].metadata)
        assert metadata == {
            "status": "CRITICAL",
            "kind": "http",
            "probe": "meta",
            "profile": "os2web",
            "previous_status": "NONE",
            "cause": "result",
            "schema_version": "1",
        }
        assert report_checks(sink.stats)["reports:structured-metadata"][0]["status"] == "pass"


async def test_refused_structured_metadata_falls_back_to_the_line_once(
    make_sink: SinkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Loki 2.9, or 3.x without schema v13, answers 400 to every entry with structured
    metadata: the same batch goes again without it, and so does everything after."""
    caplog.set_level(logging.INFO)
    with loki_double(allow_structured_metadata=False) as strict:
        stats = ReportStats()
        sink = make_sink(strict.url, stats, structured_metadata=True)
        async with running(sink):
            await sink.submit([transition("meta"), snapshot()])
            await eventually(lambda: len(strict.stored()) == 2)
            await sink.submit([transition("later", status=Status.OK)])
            await eventually(lambda: len(strict.stored()) == 3)
            await eventually(lambda: sink.spool.pending == 0)
        assert stats.loki is not None
        assert stats.loki.dropped["bad_request"] == 0 and stats.loki.pushed == 3
        assert [r.status for r in strict.answered()] == [400, 204, 204]
        assert "includes structured metadata, but this feature is disallowed" in (
            strict.answered()[0].answer
        )
        assert all(not e.metadata for e in strict.stored())
        # The data is in the line all the same.
        assert strict.stored()[0].report()["probe"]["name"] == "meta"
        warnings = [r for r in caplog.records if "refuses structured metadata" in r.getMessage()]
        assert len(warnings) == 1
        check = report_checks(stats)["reports:structured-metadata"][0]
        assert check["status"] == "warn" and "disallowed" in check["output"]


async def test_400_drops_exactly_the_offending_batch_and_goes_on(
    double: LokiDouble, make_sink: SinkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    sink = make_sink(double.url)
    before = [transition(f"ok-{i}") for i in range(3)]
    offending = [transition(f"bad-{i}") for i in range(4)]
    after = [transition(f"later-{i}") for i in range(5)]
    with caplog.at_level(logging.WARNING):
        async with running(sink):
            await sink.submit(before)
            await eventually(lambda: len(double.stored()) == 3)
            # Loki's grouped answer for 4 rejected entries (util.GroupedErrors).
            grouped = "4 errors like: stream '{x}' has timestamp too old"
            double.respond_with(400, times=1, body=grouped)
            await sink.submit(offending)
            await eventually(lambda: len(double.answered()) == 2)
            await sink.submit(after)
            await eventually(lambda: len(double.stored()) == 8)
            await eventually(lambda: sink.spool.pending == 0)
    names = [entry.report()["probe"]["name"] for entry in double.stored()]
    assert names == [r["probe"]["name"] for r in before + after]
    rejected = double.answered()[1]
    assert rejected.status == 400
    assert [e.report()["probe"]["name"] for e in rejected.entries] == [
        r["probe"]["name"] for r in offending
    ]
    assert sink.loki.dropped["bad_request"] == 4
    assert sink.loki.pushed == 8
    assert sink.loki.retried == 0
    assert len(double.answered()) == 3, "a 400 is never retried"
    warnings = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(warnings) == 1
    assert "has timestamp too old" in warnings[0]


async def test_413_drops_the_batch(make_sink: SinkFactory) -> None:
    with loki_double(max_body_bytes=2000) as double:
        sink = make_sink(double.url)
        async with running(sink):
            await sink.submit([transition("big", details={"blob": "z" * 5000})])
            await eventually(lambda: sink.loki.dropped["too_large"] == 1)
            await sink.submit([transition("small")])
            await eventually(lambda: double.stored())
        assert double.answered()[0].status == 413
        assert [e.report()["probe"]["name"] for e in double.stored()] == ["small"]


async def test_429_slows_down_and_honours_retry_after(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    sink = make_sink(double.url, min_backoff="40ms", max_backoff="5s")
    double.respond_with(429)
    async with running(sink):
        await sink.submit([transition("limited")])
        await eventually(lambda: len(double.answered()) >= 6, timeout=20)
        double.normal()
        await eventually(lambda: double.stored())
    times = [r.at for r in double.answered() if r.status == 429][:6]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Equal jitter: the n-th delay is in [d/2, d] with d = 40 ms * 2^n, so every delay is at
    # least twice the one two tries before. A gap seen by the double is that delay plus the
    # attempt's own time (spool write, push), up to about 0.1 s on a loaded CI machine.
    attempt_time = 0.1
    for earlier, later in zip(gaps, gaps[2:], strict=False):
        assert later > 1.5 * (earlier - attempt_time), gaps
    assert gaps[-1] > 0.25
    assert sink.loki.retried >= 6
    assert len(double.stored()) == 1 and not double.duplicates

    double.respond_with(429, retry_after="1", times=2)
    sink = make_sink(double.url, min_backoff="40ms", max_backoff="5s")
    async with running(sink):
        await sink.submit([transition("patient")])
        await eventually(lambda: len(double.stored()) == 2, timeout=10)
    attempts = [r.at for r in double.answered()[-3:]]
    assert attempts[1] - attempts[0] >= 0.95 and attempts[2] - attempts[1] >= 0.95


async def test_500_and_refused_connections_are_retried_until_delivered(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    sink = make_sink(double.url)
    double.down()
    async with running(sink):
        await sink.submit([transition(f"during-outage-{i}") for i in range(3)])
        await eventually(lambda: sink.loki.retried >= 9)
        assert sink.loki.queued == 3
        double.up()
        await eventually(lambda: len(double.stored()) == 3)
        double.respond_with(500, times=3)
        await sink.submit([transition("after-500")])
        await eventually(lambda: len(double.stored()) == 4)
    assert [r.status for r in double.answered()][-4:] == [500, 500, 500, 204]
    assert not double.duplicates
    assert sink.loki.last_success > 0
    assert sink.loki.push_durations.count >= 4


TOKEN = "tok-Qm39zz"
PASSWORD = "pw-Rt81yy"


@pytest.mark.parametrize("auth", ["bearer", "basic"])
async def test_credentials_come_from_files_and_never_show(
    auth: str, make_sink: SinkFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file = tmp_path / "secret"
    secret = TOKEN if auth == "bearer" else PASSWORD
    secret_file.write_text(secret + "\n")
    settings: dict[str, Any]
    if auth == "bearer":
        settings = {"bearer_token_file": str(secret_file)}
        expected = f"Bearer {TOKEN}"
    else:
        settings = {"basic_auth": {"username": "pusher", "password_file": str(secret_file)}}
        expected = "Basic " + base64.b64encode(f"pusher:{PASSWORD}".encode()).decode()
    stats = ReportStats()
    with loki_double(expected_authorization=expected, require_tenant=True) as double:
        sink = make_sink(double.url, stats, tenant="team-a", **settings)
        with caplog.at_level(logging.DEBUG):
            async with running(sink):
                # Loki's error echoes what it was sent: the log must not.
                double.respond_with(400, times=1, body=f"bad auth {expected} {secret}")
                await sink.submit([transition("echoed")])
                await eventually(lambda: stats.loki and stats.loki.dropped["bad_request"] == 1)
                await sink.submit([transition("accepted")])
                await eventually(lambda: double.stored())
        assert double.answered()[-1].headers["x-scope-orgid"] == "team-a"
    metrics = SelfMetrics(stats).render().decode()
    for text in (caplog.text, metrics):
        assert secret not in text
        assert expected not in text
    assert "***" in caplog.text


async def test_tls_with_a_ca_file_or_skipping_verification(
    make_sink: SinkFactory, tmp_path: Path
) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with loki_double(ssl_context=server_context) as double:
        url = double.url.replace("http://", "https://")
        unverified = make_sink(url, spool={"directory": str(tmp_path / "a")})
        async with running(unverified):
            await unverified.submit([transition("unknown-ca")])
            await eventually(lambda: unverified.loki.retried >= 2)
        assert not double.stored(), "an unknown CA is not trusted"
        trusted = make_sink(url, ca_file=str(ca_file), spool={"directory": str(tmp_path / "b")})
        async with running(trusted):
            await trusted.submit([transition("trusted")])
            await eventually(lambda: len(double.stored()) == 1)
        skipping = make_sink(
            url, insecure_skip_verify=True, spool={"directory": str(tmp_path / "c")}
        )
        async with running(skipping):
            await skipping.submit([transition("skipping")])
            await eventually(lambda: len(double.stored()) == 2)


async def test_too_old_reports_are_dropped_not_sent(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    sink = make_sink(double.url)
    async with running(sink):
        await sink.submit([transition("ancient", observed=time.time() - 8 * 86400)])
        await sink.submit([transition("recent")])
        await eventually(lambda: double.stored())
        await eventually(lambda: sink.spool.pending == 0)
    assert [e.report()["probe"]["name"] for e in double.stored()] == ["recent"]
    assert sink.loki.dropped["too_old"] == 1
    assert all(r.status == 204 for r in double.answered())


async def test_every_drop_reason_is_exported_from_the_start(make_sink: SinkFactory) -> None:
    stats = ReportStats()
    make_sink("http://127.0.0.1:9", stats)
    text = SelfMetrics(stats).render().decode()
    for reason in ("bad_request", "too_large", "too_old", "spool_full", "spool_unavailable"):
        assert f'site_status_reports_dropped_total{{reason="{reason}"}} 0.0' in text
    for name in (
        "site_status_reports_queued",
        "site_status_reports_pushed_total",
        "site_status_reports_retried_total",
        "site_status_report_spool_bytes",
        "site_status_reports_last_success_timestamp_seconds",
        "site_status_report_push_duration_seconds_bucket",
        "site_status_reports_written_total",
        "site_status_report_errors_total",
    ):
        assert name in text


async def test_flush_at_shutdown_is_bounded_and_the_rest_stays_spooled(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    double.down()
    sink = make_sink(double.url, max_backoff="30s")
    async with running(sink):
        await sink.submit([transition(f"queued-{i}") for i in range(5)])
        started = time.monotonic()
        await sink.flush(0.5)
        assert 0.45 <= time.monotonic() - started < 2.0
    assert sink.spool.pending == 5
    await sink.aclose()
    double.up()
    later = make_sink(double.url)
    async with running(later):
        await eventually(lambda: len(double.stored()) == 5)
        await later.flush(5)
    assert not double.duplicates


async def test_a_crash_between_push_and_commit_repushes_one_batch_that_loki_drops(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    """The documented bound: Loki accepted, the exporter died before recording it. The batch
    is pushed again with the same timestamps and lines; Loki stores it once."""
    sink = make_sink(double.url)
    await sink.open()
    await sink.submit([transition(f"in-flight-{i}") for i in range(4)])
    batch = await sink._spool_call(sink.spool.take, 1 << 20)
    body = push_body([record.entry for record in batch], with_metadata=False)
    assert (await sink.client.push(body.data)).kind == "ok"
    await sink.client.aclose()  # ... and the process dies here, before the commit
    restarted = make_sink(double.url)
    async with running(restarted):
        await eventually(lambda: len(double.duplicates) == 4)
        await restarted.flush(5)
    assert len(double.stored()) == 4, "stored once"
    assert restarted.spool.pending == 0


async def test_streams_per_site_are_two_whatever_the_probes(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    """Every built-in kind changing to every status, and a snapshot of every rollup: two
    streams (transitions, snapshots). With ``kind`` and ``status`` as labels it was 36."""
    kinds = default_registry().names()
    assert len(kinds) == 8
    reports = [
        transition(f"{kind}-probe", kind, status, Status.OK) for kind in kinds for status in Status
    ]
    for status in Status:
        rollup = snapshot()
        rollup["status"] = status.name
        reports.append(rollup)
    sink = make_sink(double.url)
    async with running(sink):
        await sink.submit(reports)
        await eventually(lambda: len(double.stored()) == len(reports))
    streams = {entry.labels for entry in double.stored()}
    assert len(streams) == 2
    # What the old label set would have made of the same reports.
    old = {
        (e.report()["report_type"], e.report().get("probe", {}).get("kind"), e.report()["status"])
        for e in double.stored()
    }
    assert len(old) == len(kinds) * len(Status) + len(Status) == 36


def test_label_values_are_cut_on_utf8_bytes_at_a_character_boundary() -> None:
    report = transition()
    report["site"]["name"] = "å" * 1500  # 3,000 bytes
    value = report_labels(report)["site"]
    assert len(value.encode()) == 2048 and value == "å" * 1024
    report["site"]["name"] = "x" + "€" * 1000  # 1 + 3,000 bytes: the cut falls inside a "€"
    value = report_labels(report)["site"]
    assert len(value.encode()) <= 2048 and value == "x" + "€" * 682
    assert cut_utf8("short", 2048) == "short"


@pytest.mark.parametrize(
    "fields", [{"name": "s" * 129}, {"environment": "e" * 64}, {"profile": "p" * 64}]
)
def test_the_config_bounds_what_becomes_a_label(fields: dict[str, str]) -> None:
    with pytest.raises(pydantic.ValidationError, match="at most"):
        Site(**fields)  # type: ignore[arg-type]
