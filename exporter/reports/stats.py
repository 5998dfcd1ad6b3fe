"""Counters the report sinks keep, read by ``exporter.web.metrics.ReportCollector`` at each scrape.

One ``ReportStats`` lives as long as the exporter (a reload that swaps sinks keeps it), so the
counters stay monotonic. The Loki part exists once a Loki sink has run.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

#: Why a report was dropped (``site_status_reports_dropped_total{reason}``); all are exported
#: from the start, at 0, so that ``rate()`` and alerts see them before the first drop.
DROP_REASONS = (
    "bad_request",  # Loki answered 400 or 422: never retried
    "too_large",  # Loki answered 413: never retried
    "too_old",  # older than Loki accepts (a week): not sent
    "spool_full",  # the spool's bound was hit: oldest snapshots first, transitions last
    "spool_unavailable",  # the spool could not be written and the memory queue was full
)

#: Why a push is retried: Loki or the way to it is down (5xx, network), Loki asks us to slow
#: down (429), or Loki refuses us until an operator acts (401, 403, 404, other answers, a
#: secret file that cannot be read).
RetryCause = Literal["unavailable", "rate_limited", "refused"]
RETRY_CAUSES: tuple[RetryCause, ...] = ("unavailable", "rate_limited", "refused")

#: Push duration buckets, seconds: a push on loopback takes milliseconds, a slow Loki seconds.
PUSH_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class DurationHistogram:
    """A histogram without prometheus_client's global registry: bucket counts, sum, count."""

    bounds: tuple[float, ...] = PUSH_DURATION_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(PUSH_DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, seconds: float) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
            self.total += seconds
            self.count += 1

    def cumulative(self) -> tuple[list[tuple[str, float]], float, int]:
        """``([(le, cumulative count), ..., ("+Inf", count)], sum, count)``."""
        with self._lock:
            counts, total, count = list(self.counts), self.total, self.count
        buckets = []
        running = 0
        for bound, bucket in zip((*self.bounds, float("inf")), counts, strict=True):
            running += bucket
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return buckets, total, count


@dataclass
class LokiStats:
    queued: int = 0
    spool_bytes: int = 0
    pushed: int = 0
    retried: int = 0
    dropped: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(DROP_REASONS, 0)))
    last_success: float = 0.0
    push_durations: DurationHistogram = field(default_factory=DurationHistogram)
    #: While pushes fail: since when (Unix time), why (a ``RetryCause``) and Loki's answer.
    failing_since: float | None = None
    failing_cause: str = ""
    failing_reason: str = ""
    #: Batches set aside (sent again later, at the end of the queue) because they kept failing
    #: while Loki accepted the reports behind them.
    set_aside: int = 0
    #: Loki's answer when it refused structured metadata ("" while it is not refused).
    metadata_refused: str = ""
    #: Why the spool does not work as it should ("" when it does).
    spool_failing: str = ""


@dataclass
class ReportStats:
    #: Reports a sink took by type (file: appended; Loki: stored in the spool).
    written: Counter[str] = field(default_factory=Counter)
    #: Reports a sink could not take (file: write failed; Loki: spool write failed).
    errors: int = 0
    loki: LokiStats | None = None

    def loki_stats(self) -> LokiStats:
        if self.loki is None:
            self.loki = LokiStats()
        return self.loki
