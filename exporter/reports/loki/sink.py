"""The Loki report sink: reports go to the spool at once, a push loop sends them in order.

Delivery, per report, in this order:

1. ``submit``: labels and a timestamp (strictly increasing per stream) are fixed, the line is
   encoded (trimmed under ``max_line_bytes``) and the entry appended to the spool (fsynced).
   From here on it survives a Loki outage and a restart of the exporter.
2. The push loop takes the head of the spool, up to ``batch_max_bytes``, once it is that large
   or its oldest entry has waited ``batch_max_wait``; one batch is in flight at a time, so
   every stream is delivered in order.
3. 2xx: the spool's committed sequence number is written (fsync, rename) *before* the batch
   leaves the queue. 400/413/422: the batch is dropped, counted and logged once with Loki's
   reason (masked), and the loop goes on. 429, 5xx, other 4xx and network errors: the same
   batch is retried after an exponential backoff with jitter (at least ``Retry-After``).

The one window for a duplicate is a crash (or a cancelled shutdown) after Loki accepted a batch
and before step 3 recorded it: that one batch (at most ``batch_max_bytes``) is pushed again at
the next start, with the same timestamps and lines from the spool, and Loki drops exact
duplicates (same stream, timestamp and line), so it is stored once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import anyio

from exporter.backoff import Backoff
from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings
from exporter.reports.episode import Episode
from exporter.reports.loki.batch import push_body
from exporter.reports.loki.client import LokiClient, PushOutcome
from exporter.reports.loki.spool import Spool, SpoolEntry, SpoolRecord
from exporter.reports.loki.streams import StreamClock, report_labels, structured_metadata
from exporter.reports.loki.takeover import take_over_site
from exporter.reports.schema import Report, encode
from exporter.reports.stats import ReportStats

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Loki rejects entries older than ``reject_old_samples_max_age`` (default one week); an
#: hour of margin for clock skew. Older entries are dropped (``too_old``), not sent.
MAX_ENTRY_AGE_NS = (7 * 86400 - 3600) * 1_000_000_000
#: A spool call appends a few KiB or, at the bound, rewrites the spool once.
SPOOL_CALL_TIMEOUT = 30.0


def observed_ns(report: Report) -> int:
    moment = datetime.fromisoformat(report["observed_at"].replace("Z", "+00:00"))
    return round(moment.timestamp() * 1000) * 1_000_000


class LokiSink:
    def __init__(
        self, settings: LokiSettings, blocking: BlockingRunner, stats: ReportStats, site: str = ""
    ):
        self.settings = settings
        self.blocking = blocking
        self.stats = stats
        self.site = site
        self.loki = stats.loki_stats()
        self.spool_path = settings.spool.path(site)
        self.spool = Spool(self.spool_path, settings.spool.max_bytes, settings.max_queue)
        self.client = LokiClient(settings, blocking)
        self.clock = StreamClock()
        self.backoff = Backoff(settings.min_backoff, settings.max_backoff)
        self._resource = f"report spool {self.spool_path}"
        self._wakeup = anyio.Event()
        self._retry_now = anyio.Event()
        self._drained = anyio.Event()
        self._draining = False
        self._spool_errors_seen = 0
        #: Structured metadata is sent while this holds: the setting, until Loki refuses it.
        self._metadata = settings.structured_metadata
        #: Pushes that Loki or the network keep failing: one warning per episode.
        self.failures = Episode("Loki push", log, logging.WARNING)
        self._last_failure = ""
        self._retry_after: float | None = None

    async def _spool_call(self, func: Callable[..., T], *args: Any) -> T:
        # Shielded: a spool operation abandoned half way at shutdown would still finish in its
        # thread, but its result (what was committed) would be lost to us.
        with anyio.CancelScope(shield=True):
            result = await self.blocking.call(
                func, *args, resource=self._resource, timeout=SPOOL_CALL_TIMEOUT
            )
        return result

    def _update_gauges(self) -> None:
        self.loki.queued = self.spool.pending
        self.loki.spool_bytes = self.spool.disk_bytes
        self.loki.spool_failing = self.spool.failing

    async def open(self) -> None:
        clock = await self._spool_call(self.spool.open)
        self.clock.advance(clock)
        shared = self.settings.spool.shared_default()
        if shared is not None and shared != self.spool_path and not self.spool.disabled:
            clock = await self._spool_call(take_over_site, shared, self.spool, self.site)
            self.clock.advance(clock)
        self._update_gauges()
        self._wakeup.set()

    def entry(self, report: Report) -> SpoolEntry:
        labels = report_labels(report)
        entry = SpoolEntry(labels, 0, encode(report, self.settings.max_line_bytes))
        stamp = self.clock.stamp(entry.stream, observed_ns(report))
        metadata = structured_metadata(report) if self.settings.structured_metadata else {}
        return SpoolEntry(labels, stamp, entry.line, metadata)

    async def submit(self, reports: Sequence[Report]) -> None:
        if not reports:
            return
        entries = [self.entry(report) for report in reports]
        try:
            dropped = await self._spool_call(self.spool.append, entries)
        except Exception as error:  # a stuck or failing spool: counted, never a crash
            self.stats.errors += len(reports)
            self.loki.dropped["spool_unavailable"] += len(reports)
            self.loki.spool_failing = f"could not queue {len(reports)} report(s): {error}"
            log.error("could not queue %d report(s) for Loki: %s", len(reports), error)
            return
        for reason, count in dropped.items():
            self.loki.dropped[reason] += count
        for report in reports:
            self.stats.written[report["report_type"]] += 1
        self.stats.errors += self.spool.write_errors - self._spool_errors_seen
        self._spool_errors_seen = self.spool.write_errors
        self._update_gauges()
        self._wakeup.set()

    async def run(self) -> None:
        """Push until cancelled."""
        while True:
            batch = await self._next_batch()
            await self._deliver(batch)

    async def _next_batch(self) -> list[SpoolRecord]:
        while True:
            self._wakeup = anyio.Event()
            arrived = self.spool.head_arrived()
            wait = float("inf")
            if arrived is not None:
                due = arrived + self.settings.batch_max_wait
                full = self.spool.pending_bytes_in_memory() >= self.settings.batch_max_bytes
                if self._draining or full or time.monotonic() >= due:
                    batch = await self._spool_call(self.spool.take, self.settings.batch_max_bytes)
                    if batch:
                        return batch
                    continue
                wait = due - time.monotonic()
            with anyio.move_on_after(wait):
                await self._wakeup.wait()

    def _fresh(self, records: Sequence[SpoolRecord]) -> list[SpoolEntry]:
        """The entries Loki still accepts; older ones are dropped (``too_old``) when committed."""
        oldest_allowed = time.time_ns() - MAX_ENTRY_AGE_NS
        return [record.entry for record in records if record.entry.timestamp >= oldest_allowed]

    def _count_too_old(self, records: Sequence[SpoolRecord], sent: int) -> None:
        if sent < len(records):
            self.loki.dropped["too_old"] += len(records) - sent
            log.warning("dropped %d report(s) older than Loki accepts", len(records) - sent)

    async def _deliver(self, batch: list[SpoolRecord]) -> None:
        entries = self._fresh(batch)
        done = len(batch)
        if entries:
            done = await self._push_head(batch, entries)
        else:
            self._count_too_old(batch, 0)
        try:
            await self._spool_call(self.spool.commit, done, self.clock.state())
        except Exception as error:
            # Delivered but not recorded: pushed again later, and Loki drops exact duplicates.
            log.error("could not record %d delivered report(s): %s", done, error)
            self.spool.release()
        self._update_gauges()
        if not self.spool.pending:
            self._drained.set()

    async def _push_head(self, batch: list[SpoolRecord], entries: list[SpoolEntry]) -> int:
        """Push the head of the queue until Loki answers it; the spool records done with.

        The hold-back policy: a batch that keeps failing (429, 5xx, 401/403/404, network) is
        retried with backoff, and every report waits behind it, in order. Once it has failed
        for ``max_hold_back``, every other try that fails is followed at once by the batch
        behind it: if Loki takes that one, the failure was the head batch's own; it goes to the
        end of the queue (same timestamps and lines) and the queue moves on. If Loki refuses
        that one too, nothing would get through anyway, and the order is kept.
        """
        held_since = time.monotonic()
        try_behind = False
        while True:
            outcome = await self._send(entries)
            if outcome.kind != "retry":
                self._account(outcome, len(entries))
                self._count_too_old(batch, len(entries))
                return len(batch)
            if try_behind:  # right after the head failed again, so a recovery is not mistaken
                done = await self._try_behind(batch, entries)
                if done:
                    return done
            try_behind = not try_behind and (
                time.monotonic() - held_since >= self.settings.max_hold_back
            )
            await self._back_off()

    async def _try_behind(self, batch: list[SpoolRecord], head: list[SpoolEntry]) -> int:
        behind = await self._spool_call(self.spool.take_more, self.settings.batch_max_bytes)
        if not behind:
            return 0  # nothing is held back
        entries = self._fresh(behind)
        outcome = await self._send(entries) if entries else PushOutcome("ok", None)
        if outcome.kind == "retry":
            self.spool.release(keep=len(batch))
            return 0
        self._account(outcome, len(entries))
        self._count_too_old(behind, len(entries))
        # Loki may have come back just now: one more try of the head before it is set aside.
        outcome = await self._send(head)
        if outcome.kind != "retry":
            self._account(outcome, len(head))
            self._count_too_old(batch, len(head))
            return len(batch) + len(behind)
        # Queued again before the old copy is committed: a crash in between sends it twice,
        # and Loki drops the exact duplicate.
        dropped = await self._spool_call(self.spool.append, head)
        for reason, count in dropped.items():
            self.loki.dropped[reason] += count
        self.loki.set_aside += 1
        self._count_too_old(batch, len(head))
        level = logging.WARNING if self.loki.set_aside == 1 else logging.INFO
        log.log(
            level,
            "a batch of %d report(s) kept failing for over %.0fs while Loki took the reports "
            "behind it: it goes to the end of the queue (%s)",
            len(head),
            self.settings.max_hold_back,
            self._last_failure,
        )
        return len(batch) + len(behind)

    async def _send(self, entries: list[SpoolEntry]) -> PushOutcome:
        """One push of ``entries``, sent again at once without structured metadata if Loki
        refuses it; a retry outcome is counted and starts (or continues) a failing episode."""
        while True:
            body = push_body(entries, self._metadata)
            outcome = await self.client.push(body.data)
            self.loki.push_durations.observe(outcome.duration)
            if not (outcome.metadata_refused and self._metadata):
                break
            self._metadata = False
            self.loki.metadata_refused = outcome.reason
            log.warning(
                "Loki refuses structured metadata (%s); sending without it from now on: its "
                "fields are in the line too. Enable it in Loki (schema v13 and "
                "limits_config.allow_structured_metadata) or set structured_metadata: false",
                outcome.reason,
            )
        if outcome.kind == "retry":
            self.loki.retried += len(entries)
            self._last_failure = outcome.reason
            if self.loki.failing_cause and outcome.cause != self.loki.failing_cause:
                # A new cause starts its own backoff: after a long outage (delays at
                # max_backoff), a Loki that is back but rate-limits is retried soon.
                self.backoff.reset()
            if self.failures.failed(outcome.reason):
                self.loki.failing_since = self.failures.since
            self.loki.failing_cause = outcome.cause or "unavailable"
            self.loki.failing_reason = outcome.reason
            self._retry_after = outcome.retry_after
        return outcome

    def _account(self, outcome: PushOutcome, count: int) -> None:
        """Loki answered a batch of ``count`` entries (2xx, or a 4xx that retrying won't fix)."""
        self.failures.succeeded()
        self.loki.failing_since = None
        self.loki.failing_cause = self.loki.failing_reason = ""
        if outcome.kind == "ok":
            self.loki.pushed += count
            self.loki.last_success = time.time()
        else:
            # A 400 names the entries it rejected; Loki stored the others of the batch.
            rejected = count if outcome.rejected is None else min(outcome.rejected, count)
            reason = outcome.drop_reason or "bad_request"
            self.loki.dropped[reason] += rejected
            self.loki.pushed += count - rejected
            if count - rejected:
                self.loki.last_success = time.time()
            log.warning(
                "Loki rejected %d of a batch of %d report(s), dropped (not retried): %s",
                rejected,
                count,
                outcome.reason,
            )
        self.backoff.reset()

    async def _back_off(self) -> None:
        delay = self.backoff.next_delay(self._retry_after)
        log.debug("next try in %.2fs", delay)
        self._retry_now = anyio.Event()
        with anyio.move_on_after(delay):
            await self._retry_now.wait()

    async def flush(self, timeout: float) -> None:
        """Push what is queued, for at most ``timeout`` seconds; the rest stays spooled."""
        self._draining = True
        self._drained = anyio.Event()
        self._wakeup.set()
        self._retry_now.set()  # one immediate try, whatever the backoff said
        if self.spool.pending:
            with anyio.move_on_after(timeout):
                await self._drained.wait()
        if self.spool.pending:
            log.warning(
                "%d report(s) not delivered to Loki at shutdown; they stay in the spool %s",
                self.spool.pending,
                self.spool_path,
            )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self._spool_call(self.spool.close)
