"""``site-status gate``: the command line, the watch loop and the exit codes.

Exit codes: 0 pass, 1 fail, 2 usage or config error, 3 unknown (the source cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from exporter.gate import report
from exporter.gate.fetch import Fetcher
from exporter.gate.first_results import read_with_first_results
from exporter.gate.judge import ExitCode, Judged, Policy, Watch, grace_of, judge
from exporter.gate.model import SiteState, SourceRejected, SourceUnreachable
from exporter.gate.sources import ExporterSource, PrometheusSource, Source
from exporter.gate.windows import inside, next_opening
from exporter.interrupts import Interrupted
from exporter.status import Status
from exporter.units import format_duration
from exporter.visible_text import visible

#: A site's /status unreachable in a watch for this long (or the grace, if longer) ends the
#: watch with UNKNOWN: a short blip of the network is not a verdict on the rollout.
UNREACHABLE_GRACE = 30.0


class Progress:
    """Watch progress on stderr: one updating line on a terminal, plain lines when piped (on a
    change of the count, and once a minute)."""

    def __init__(self, stream: TextIO, total: float) -> None:
        self.stream = stream
        self.total = total
        self.tty = stream.isatty()
        self._last: tuple[str, float] | None = None

    def show(self, elapsed: float, judged: Sequence[Judged]) -> None:
        good = sum(not j.degraded for j in judged)
        text = (
            f"watching {format_duration(round(elapsed))} of {format_duration(self.total)}: "
            f"{good}/{len(judged)} sites OK"
        )
        degraded = [j.site.site for j in judged if j.degraded]
        if degraded:
            text += " (degraded: " + ", ".join(degraded) + ")"
        text = visible(text)
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            counts = text.split(": ", 1)[1]
            if self._last and self._last[0] == counts and elapsed - self._last[1] < 60:
                return
            self._last = (counts, elapsed)
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


class Gate:
    def __init__(
        self,
        args: argparse.Namespace,
        source: Source,
        out: TextIO,
        err: TextIO,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.args = args
        self.source = source
        self.out = out
        self.err = err
        self.clock = clock
        self.sleep = sleep
        self.policy = Policy(
            max_status=Status[args.max_status.upper()],
            allow_missing=args.allow_missing,
            fail_in_maintenance=args.fail_in_maintenance,
        )
        self.windows = [window for spec in args.window or [] for window in spec]
        self.extra: dict[str, Any] = {"source": source.describe(), "max_status": args.max_status}

    def finish(self, outcome: ExitCode, reason: str, judged: Sequence[Judged] = ()) -> int:
        if self.args.format == "json":
            document = report.document(outcome, reason, judged, self.extra)
            self.out.write(json.dumps(document, indent=1) + "\n")
        else:
            self.out.write(report.first_line(outcome, reason) + "\n")
            for line in report.lines(judged):
                self.out.write(line + "\n")
        self.out.flush()
        return int(outcome)

    def run(self) -> int:
        if self.windows:
            now = datetime.now(UTC)
            if not inside(self.windows, now):
                _, opening = next_opening(self.windows, now)
                self.extra["next_window"] = opening
                return self.finish(ExitCode.FAIL, f"outside deploy window (next: {opening})")
        try:
            if self.args.watch is None:
                sites = read_with_first_results(
                    self.source, self.args.wait_first_result, self.clock, self.sleep, self.err
                )
                if not sites and not self.args.allow_empty:
                    return self.finish(ExitCode.FAIL, self.nothing_matched())
                judged = judge(sites, self.policy)
                outcome, text = report.summary_text(judged, self.policy.max_status)
                return self.finish(outcome, text, judged)
            return self.watch(self.args.watch)
        except SourceUnreachable as error:
            return self.finish(ExitCode.UNKNOWN, str(error))
        except SourceRejected as error:
            return self.finish(ExitCode.USAGE, str(error))

    def nothing_matched(self) -> str:
        return (
            f"no site matched {self.source.describe()} (a typo in --match? "
            "--allow-empty passes an empty match)"
        )

    def watch(self, duration: float) -> int:
        watch = Watch(self.policy, self.args.grace)
        progress = Progress(self.err, duration)
        start = self.clock()
        self.extra["watch_seconds"] = duration
        try:
            return self._watch(watch, progress, start, duration)
        except Interrupted as stop:
            progress.done()
            watched = format_duration(self.clock() - start)
            raise Interrupted(stop.signum, f"after {watched} of watching") from None

    def _watch(self, watch: Watch, progress: Progress, start: float, duration: float) -> int:
        unreachable_since: float | None = None
        while True:
            now = self.clock()
            try:
                sites: list[SiteState] = self.source.read()
                unreachable_since = None
            except SourceUnreachable:
                unreachable_since = now if unreachable_since is None else unreachable_since
                if now - unreachable_since >= max(UNREACHABLE_GRACE, self.args.grace or 0):
                    progress.done()
                    raise
                self.sleep(self.args.poll)
                continue
            if not sites and not self.args.allow_empty:
                progress.done()
                return self.finish(ExitCode.FAIL, self.nothing_matched())
            judged, lasting = watch.observe(sites, now)
            progress.show(now - start, judged)
            if lasting:
                progress.done()
                return self._degraded(lasting, judged, now - start, watch, now)
            if now - start >= duration and not any(j.degraded for j in judged):
                progress.done()
                _, text = report.summary_text(judged, self.policy.max_status)
                return self.finish(
                    ExitCode.PASS, f"held for {format_duration(duration)}: {text}", judged
                )
            # Past the end, a degradation still in its grace is watched until it recovers or
            # lasts: passing a site that is down right now would be a lie.
            self.sleep(self.args.poll)

    def _degraded(
        self, lasting: list[Judged], judged: list[Judged], elapsed: float, watch: Watch, now: float
    ) -> int:
        first = lasting[0]
        grace = grace_of(first.site, self.args.grace)
        names = ", ".join(j.site.site for j in lasting)
        reason = (
            f"degraded after {format_duration(elapsed)} of watching, for "
            f"{format_duration(watch.degraded_for(first.site.site, now))} "
            f"(grace {format_duration(grace)}): {names}"
        )
        return self.finish(ExitCode.FAIL, report.cut(reason), judged)


def run(args: argparse.Namespace) -> int:
    with Fetcher(args.timeout) as fetcher:
        source: Source
        if args.url:
            source = ExporterSource(args.url, fetcher, args.allow_missing)
        else:
            source = PrometheusSource(args.prometheus, args.match, fetcher, args.lookback)
        return Gate(args, source, sys.stdout, sys.stderr).run()
