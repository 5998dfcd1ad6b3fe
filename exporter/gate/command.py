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

import httpx

from exporter.freeze import Freeze
from exporter.gate import audit, freezing, report
from exporter.gate.fetch import Fetcher
from exporter.gate.first_results import read_with_first_results
from exporter.gate.judge import ExitCode, Judged, Policy, Watch, grace_of, judge
from exporter.gate.model import SiteState, SourceRejected, SourceUnreachable
from exporter.gate.promotion import PromotionSource
from exporter.gate.sources import ExporterSource, PrometheusSource, Source
from exporter.gate.windows import WindowSpecError, inside, next_opening
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
        degraded = [j.site.key for j in judged if j.degraded]
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
            honor_freeze=args.watch is None,
        )
        #: A degradation outlasted its grace during --watch: the failing sites get frozen.
        self.watch_failed = False
        self.windows = [window for spec in args.window or [] for window in spec]
        self.extra: dict[str, Any] = {"source": source.describe(), "max_status": args.max_status}

    def finish(self, outcome: ExitCode, reason: str, judged: Sequence[Judged] = ()) -> int:
        """The verdict, once an --override or a failed watch's freeze has had its say."""
        if outcome is ExitCode.FAIL and self.args.override:
            outcome, reason = self._override(reason, judged)
        elif outcome is ExitCode.FAIL and self.watch_failed and not self.args.no_freeze:
            self._freeze_failing(reason, judged)
        return self._emit(outcome, reason, judged)

    def _override(self, reason: str, judged: Sequence[Judged]) -> tuple[ExitCode, str]:
        by = self.args.by or freezing.who()
        sites = [verdict.site for verdict in judged]
        records = [audit.record(site, "override", self.args.override, by, reason) for site in sites]
        changes = [
            freezing.override_change(target, self.args.override, by, reason)
            for target in self._targets(sites, quiet=True)
        ]
        recorded, problems = self._record(records, changes)
        if not recorded and not problems:
            problems.append(
                "nowhere to record the override: give --loki or --audit-file (or run the gate "
                "in a cluster, for an Event)"
            )
        for problem in problems:
            self.err.write(f"site-status gate: {problem}\n")
        if not recorded:
            return ExitCode.FAIL, f"override not recorded, so not granted: {reason}"
        self.extra["overridden"] = reason
        return ExitCode.PASS, f"overridden by {by}: {self.args.override} (was: {reason})"

    def _freeze_failing(self, reason: str, judged: Sequence[Judged]) -> None:
        by = self.args.by or freezing.who()
        sites = [verdict.site for verdict in judged if verdict.degraded]
        freeze = Freeze(datetime.now(UTC), report.cut(f"failed watch: {reason}", 300), by)
        targets = self._targets(sites, quiet=False)
        changes = [freezing.freeze_change(target, freeze) for target in targets]
        problems = freezing.apply(changes)
        if not problems and targets:
            records = [audit.record(site, "freeze", freeze.reason, by) for site in sites]
            problems += self._audit(records)
            self.extra["frozen"] = [site.site for site in sites]
            for site, target in zip(sites, targets, strict=True):
                self.err.write(f"site-status gate: froze {site.site} ({target})\n")
        for problem in problems:
            self.err.write(f"site-status gate: not frozen: {problem}\n")

    def _targets(self, sites: Sequence[SiteState], quiet: bool) -> list[freezing.Target]:
        """Where each site's freeze lives; sites with no known namespace are left out (said on
        stderr unless ``quiet``)."""
        own = None if self.args.namespace else freezing.own_namespace()
        targets = []
        for site in sites:
            namespace = self.args.namespace or site.namespace or own
            if namespace:
                targets.append(freezing.Target(namespace, self.args.deployment))
            elif not quiet:
                self.err.write(
                    f"site-status gate: not frozen: {site.site}: no Kubernetes namespace "
                    "known (give --namespace)\n"
                )
        return targets

    def _audit(self, records: list[dict[str, Any]]) -> list[str]:
        target = audit_target(self.args)
        if not target or not records:
            return []
        with httpx.Client(timeout=self.args.timeout, trust_env=True) as client:
            return audit.write(client, target, records)

    def _record(
        self, records: list[dict[str, Any]], changes: list[freezing.Change]
    ) -> tuple[bool, list[str]]:
        """Write the audit records and the Events; whether at least one place has them all."""
        problems = self._audit(records)
        recorded = bool(audit_target(self.args)) and not problems
        if changes:
            event_problems = freezing.apply(changes)
            recorded = recorded or not event_problems
            problems += event_problems
        return recorded, problems

    def _emit(self, outcome: ExitCode, reason: str, judged: Sequence[Judged] = ()) -> int:
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
        outside = ""
        if self.windows:
            now = datetime.now(UTC)
            if not inside(self.windows, now):
                try:
                    _, opening = next_opening(self.windows, now)
                except WindowSpecError:
                    opening = "none within a year"
                self.extra["next_window"] = opening
                outside = f"outside deploy window (next: {opening})"
                if not self.args.override:  # an override records the sites: read them
                    return self.finish(ExitCode.FAIL, outside)
        try:
            if self.args.watch is None:
                sites = read_with_first_results(
                    self.source, self.args.wait_first_result, self.clock, self.sleep, self.err
                )
                if not sites and not self.args.allow_empty:
                    return self.finish(ExitCode.FAIL, self.nothing_matched())
                judged = judge(sites, self.policy)
                outcome, text = report.summary_text(judged, self.policy.max_status)
                if outside:
                    failed = outcome is ExitCode.FAIL
                    outcome, text = ExitCode.FAIL, f"{outside}; {text}" if failed else outside
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
        names = ", ".join(j.site.key for j in lasting)
        self.watch_failed = True
        reason = (
            f"degraded after {format_duration(elapsed)} of watching, for "
            f"{format_duration(watch.degraded_for(first.site.key, now))} "
            f"(grace {format_duration(grace)}): {names}"
        )
        return self.finish(ExitCode.FAIL, report.cut(reason), judged)


def audit_target(args: argparse.Namespace) -> audit.AuditTarget:
    return audit.AuditTarget(args.loki, args.audit_file)


def make_source(args: argparse.Namespace, fetcher: Fetcher) -> Source:
    if args.url:
        return ExporterSource(args.url, fetcher, args.allow_missing)
    source = PrometheusSource(args.prometheus, args.match, fetcher, args.lookback)
    if args.promote_from is not None:
        return PromotionSource(source, args.promote_from)
    return source


def usage_error(args: argparse.Namespace) -> str | None:
    if not args.url and not args.prometheus:
        return "one of the arguments --url --prometheus is required"
    if getattr(args, "override", None) is not None:
        if not args.override.strip():
            return "--override needs a reason"
        if args.watch is not None:
            return "--override is for the gate before a rollout, not for --watch"
    return None


def run(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        sys.stderr.write(f"site-status gate: error: {problem}\n")
        return int(ExitCode.USAGE)
    with Fetcher(args.timeout) as fetcher:
        source = make_source(args, fetcher)
        if args.action in ("freeze", "unfreeze"):
            return run_action(args, source, sys.stdout, sys.stderr)
        return Gate(args, source, sys.stdout, sys.stderr).run()


def run_action(args: argparse.Namespace, source: Source, out: TextIO, err: TextIO) -> int:
    """``gate freeze`` and ``gate unfreeze``: on every site the source names."""
    by = args.by or freezing.who()
    reason = " ".join(args.reason.split())
    if not reason:
        err.write("site-status gate: error: --reason needs a reason\n")
        return int(ExitCode.USAGE)
    try:
        sites = source.read()
    except SourceUnreachable as error:
        err.write(f"site-status gate: {error}\n")
        return int(ExitCode.UNKNOWN)
    except SourceRejected as error:
        err.write(f"site-status gate: {error}\n")
        return int(ExitCode.USAGE)
    own = None if args.namespace else freezing.own_namespace()
    freeze = Freeze(datetime.now(UTC), reason[:300], by)
    done: list[str] = []
    problems: list[str] = []
    for site in sites:
        namespace = args.namespace or site.namespace or own
        if not namespace:
            problems.append(f"{site.site}: no Kubernetes namespace known (give --namespace)")
            continue
        target = freezing.Target(namespace, args.deployment)
        change = (
            freezing.freeze_change(target, freeze)
            if args.action == "freeze"
            else freezing.unfreeze_change(target, reason, by)
        )
        failed = freezing.apply([change])
        if failed:
            problems += failed
            continue
        record = audit.record(site, args.action, reason, by)
        target_audit = audit_target(args)
        if target_audit:
            with httpx.Client(timeout=args.timeout, trust_env=True) as client:
                problems += audit.write(client, target_audit, [record])
        word = "FROZEN" if args.action == "freeze" else "UNFROZEN"
        done.append(f"{word} {site.site} ({target}) by {by}: {reason}")
    for line in done:
        out.write(line + "\n")
    for problem in problems:
        err.write(f"site-status gate: {problem}\n")
    if not sites:
        err.write(f"site-status gate: no site matched {source.describe()}\n")
        return int(ExitCode.FAIL)
    return int(ExitCode.UNKNOWN) if problems else int(ExitCode.PASS)
