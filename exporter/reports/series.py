"""The series that say a report path is stuck, beside ``/healthz``'s checks (one per cause, all
exported from the start at 0, so that alerts see them before the first failure)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter.reports.stats import RETRY_CAUSES, LokiStats


def stuck_report_families(loki: LokiStats) -> Iterator[Metric]:
    failing = GaugeMetricFamily(
        "site_status_report_push_failing",
        "1 while pushes to Loki fail, by cause: unavailable (5xx, network), rate_limited "
        "(429), refused (401, 403, 404 and other answers an operator must fix).",
        labels=["cause"],
    )
    for cause in RETRY_CAUSES:
        stuck = loki.failing_since is not None and loki.failing_cause == cause
        failing.add_metric([cause], 1.0 if stuck else 0.0)
    yield failing
    yield CounterMetricFamily(
        "site_status_report_batches_set_aside_total",
        "Batches that kept failing while Loki took the reports behind them, sent again later "
        "at the end of the queue.",
        value=float(loki.set_aside),
    )
    yield GaugeMetricFamily(
        "site_status_report_structured_metadata_refused",
        "1 once Loki refused structured metadata: reports are sent without it.",
        value=1.0 if loki.metadata_refused else 0.0,
    )
    yield GaugeMetricFamily(
        "site_status_report_spool_failing",
        "1 while the report spool cannot be written (a full disk) or is unusable.",
        value=1.0 if loki.spool_failing else 0.0,
    )
