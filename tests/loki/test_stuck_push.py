"""A push that Loki keeps refusing is surfaced at once and holds the others back for a bounded
time only; a partly accepted batch is counted as Loki counted it (issue 17)."""

from __future__ import annotations

import json
import logging
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.reports.delivery_checks import report_checks
from exporter.reports.loki.streams import report_labels
from exporter.reports.stats import ReportStats
from exporter.web.metrics import SelfMetrics
from tests.loki.conftest import SinkFactory, eventually, running, snapshot, transition
from tests.support.exporter_process import running_exporter, wait_until
from tests.support.loki_double import LokiDouble, loki_double
from tests.support.timing import LOADED


def failing_series(stats: ReportStats) -> dict[str, float]:
    text = SelfMetrics(stats).render().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("site_status_report_push_failing{"):
            cause = line.split('cause="', 1)[1].split('"', 1)[0]
            values[cause] = float(line.rsplit(" ", 1)[1])
    return values


@pytest.mark.parametrize(
    ("status", "cause"),
    [(401, "refused"), (404, "refused"), (429, "rate_limited"), (503, "unavailable")],
)
async def test_a_lasting_refusal_is_surfaced_at_once_and_logged_once(
    double: LokiDouble,
    make_sink: SinkFactory,
    caplog: pytest.LogCaptureFixture,
    status: int,
    cause: str,
) -> None:
    caplog.set_level(logging.INFO)
    stats = ReportStats()
    sink = make_sink(double.url, stats, min_backoff="10ms", max_backoff="30ms")
    double.respond_with(status, body=f"forced {status}")
    async with running(sink):
        await sink.submit([transition("a"), transition("b")])
        await eventually(lambda: len(double.answered()) >= 1)
        await eventually(lambda: report_checks(stats)["reports:loki"][0]["status"] == "warn")
        check = report_checks(stats)["reports:loki"][0]
        assert f"({cause}): HTTP {status}: forced {status}" in check["output"]
        assert failing_series(stats)[cause] == 1.0
        await eventually(lambda: len(double.answered()) >= 10)
        double.normal()
        await eventually(lambda: len(double.stored()) == 2)
        await eventually(lambda: report_checks(stats)["reports:loki"][0]["status"] == "pass")
    assert set(failing_series(stats).values()) == {0.0}
    started = [r for r in caplog.records if "Loki push failed:" in r.getMessage()]
    ended = [r for r in caplog.records if "Loki push works again" in r.getMessage()]
    assert (len(started), len(ended)) == (1, 1), "one line when it starts, one when it ends"
    assert started[0].levelno == logging.WARNING


async def test_one_failing_batch_holds_the_others_back_for_max_hold_back_only(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    stats = ReportStats()
    sink = make_sink(
        double.url, stats, min_backoff="20ms", max_backoff="50ms", max_hold_back="500ms"
    )
    double.refuse_lines("poison", 500)
    async with running(sink):
        await sink.submit([transition("poison")])
        await eventually(lambda: len(double.answered()) >= 1)
        started = time.monotonic()
        await sink.submit([transition(f"later-{i}") for i in range(5)])
        await eventually(lambda: len(double.stored()) == 5)
        held = time.monotonic() - started
        assert 0.3 <= held <= 3.0, held
        assert stats.loki is not None
        await eventually(lambda: stats.loki is not None and stats.loki.set_aside >= 1)
        assert "poison" not in [e.report()["probe"]["name"] for e in double.stored()]
        # Set aside, not lost: it goes once Loki takes it, after the others.
        double.normal()
        await eventually(lambda: len(double.stored()) == 6)
        await eventually(lambda: stats.loki is not None and stats.loki.pushed == 6)
    names = [e.report()["probe"]["name"] for e in double.stored()]
    assert names[-1] == "poison" and not double.duplicates
    assert stats.loki.pushed == 6 and sum(stats.loki.dropped.values()) == 0


async def test_when_nothing_gets_through_the_order_is_kept(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    stats = ReportStats()
    sink = make_sink(
        double.url, stats, min_backoff="20ms", max_backoff="50ms", max_hold_back="200ms"
    )
    double.respond_with(503)
    async with running(sink):
        await sink.submit([transition("first")])
        await eventually(lambda: len(double.answered()) >= 1)
        await sink.submit([transition("second")])
        await eventually(lambda: len(double.answered()) >= 20)  # well past max_hold_back
        double.normal()
        await eventually(lambda: len(double.stored()) == 2)
    # As a query returns them (by timestamp; Loki takes either arrival order in its window).
    by_time = sorted(double.stored(), key=lambda e: e.timestamp)
    assert [e.report()["probe"]["name"] for e in by_time] == ["first", "second"]
    assert stats.loki is not None and stats.loki.set_aside == 0, "nothing was set aside"


async def test_a_partly_accepted_batch_is_counted_as_loki_counts_it(
    double: LokiDouble, make_sink: SinkFactory
) -> None:
    """Loki stores the valid entries of a 400 and names the others; our drop count matches."""
    now = time.time()
    late = [transition(f"late-{i}", observed=now - 2 * 3600) for i in range(3)]
    fresh = [transition(f"fresh-{i}", observed=now) for i in range(2)]
    # Another writer put a newer entry in the same stream: ours two hours back are too far
    # behind it (Loki's one-hour window), the fresh ones are fine.
    labels = report_labels(fresh[0])
    newest = {"streams": [{"stream": labels, "values": [[str(time.time_ns()), "newest"]]}]}
    double.handle({"content-type": "application/json"}, json.dumps(newest).encode())
    stats = ReportStats()
    sink = make_sink(double.url, stats)
    async with running(sink):
        await sink.submit([*late, *fresh, snapshot()])
        await eventually(lambda: len(double.answered()) == 2)
        await eventually(lambda: sink.spool.pending == 0)
    answer = double.answered()[1]
    assert answer.status == 400 and "entry too far behind" in answer.answer
    stored = {e.report()["probe"]["name"] for e in double.stored()[1:] if "probe" in e.report()}
    assert stored == {"fresh-0", "fresh-1"}
    assert stats.loki is not None
    assert stats.loki.dropped["bad_request"] == 3
    assert stats.loki.pushed == 3  # two fresh transitions and the snapshot


async def test_a_new_cause_restarts_the_backoff(double: LokiDouble, make_sink: SinkFactory) -> None:
    """After a long outage the delays are at max_backoff; a Loki that is back but answers 429
    is retried soon (then backed off again), not a max_backoff later."""
    sink = make_sink(double.url, min_backoff="20ms", max_backoff="4s")
    double.down()
    async with running(sink):
        await sink.submit([transition("waiting")])
        await eventually(lambda: sink.backoff.failures >= 7)  # the next delays 2-4 s
        double.respond_with(429, times=2)
        double.up()
        await eventually(lambda: len(double.answered()) >= 3, timeout=15)
        await eventually(lambda: double.stored())
    first, second = double.answered()[:2]
    assert (first.status, second.status) == (429, 429)
    # 10-20 ms, plus what a loaded machine adds; going on with the outage's backoff, 2-4 s.
    assert second.at - first.at < LOADED, "the 429 backoff starts again from min_backoff"


def test_the_running_exporter_shows_a_refused_push_on_healthz_and_metrics(
    tmp_path: Path,
) -> None:
    """The real exporter against a Loki that wants a token it does not send: 401 on every
    push, at once ``reports:loki`` warns and the series says ``refused``."""
    target = tmp_path / "present"
    target.write_text("x")
    config = tmp_path / "config.yaml"
    with loki_double(expected_authorization="Bearer right") as strict:
        config.write_text(
            textwrap.dedent(
                f"""\
                site: {{name: shop, environment: prod, tier: priprod}}
                reports:
                  loki:
                    url: {strict.url}
                    batch_max_wait: 100ms
                    min_backoff: 100ms
                    max_backoff: 200ms
                    spool: {{directory: {tmp_path / "spool"}}}
                probes:
                  - {{name: here, kind: file, path: {target}, interval: 1s}}
                """
            )
        )
        with running_exporter(config, tmp_path) as exporter:

            def loki_check() -> dict[str, Any] | None:
                status, body = exporter.get("/healthz")
                check: dict[str, Any] = json.loads(body)["checks"]["reports:loki"][0]
                return check if status == 200 and check["status"] == "warn" else None

            check = wait_until(loki_check, timeout=20)
            assert "(refused): HTTP 401: unauthorized" in check["output"]
            series = exporter.metrics()
            assert series["site_status_report_push_failing", (("cause", "refused"),)] == 1.0
            wait_until(lambda: len(strict.answered()) >= 5, timeout=20)
            log = exporter.log_text()
    assert log.count("Loki push failed") == 1, log
