"""``site-status report``: read the period from Prometheus, write the chosen format."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from exporter.gate.fetch import Fetcher
from exporter.gate.matchers import describe, selector
from exporter.gate.model import SourceRejected, SourceUnreachable
from exporter.gate.prometheus import PrometheusAPI
from exporter.service_report import html, markdown, tabular
from exporter.service_report.collect import collect
from exporter.service_report.model import Report, build
from exporter.service_report.period import (
    Period,
    PeriodError,
    month_period,
    range_period,
    utc_now,
    zone_of,
)

EXIT_USAGE, EXIT_UNREACHABLE = 2, 3
#: A month of a large fleet's failing minutes is far more than the gate's one instant.
MAX_ANSWER_BYTES = 512 * 1024 * 1024

RENDERERS: dict[str, Callable[[Report], str]] = {
    "markdown": markdown.render,
    "html": html.render,
    "csv": tabular.render_csv,
    "json": tabular.render_json,
}


def period_of(args: argparse.Namespace, now: datetime) -> Period:
    zone = zone_of(args.timezone)
    if args.month:
        if args.end:
            raise PeriodError("--to goes with --from, not with --month")
        return month_period(args.month, zone, now)
    if not args.end:
        raise PeriodError("--from needs --to")
    return range_period(args.start, args.end, zone, now)


def make_report(api: PrometheusAPI, args: argparse.Namespace, now: datetime) -> Report:
    period = period_of(args, now)
    raw = collect(api, selector("site_status_site_info", args.match), period)
    match = describe(args.match) if args.match else ""
    return build(raw, period, api.describe(), match, now)


def run(args: argparse.Namespace) -> int:
    now = utc_now()
    try:
        with Fetcher(args.timeout, max_bytes=MAX_ANSWER_BYTES) as fetcher:
            report = make_report(PrometheusAPI(args.prometheus, fetcher), args, now)
    except PeriodError as error:
        print(f"site-status report: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SourceRejected as error:
        print(f"site-status report: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SourceUnreachable as error:
        print(f"site-status report: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    rendered = RENDERERS[args.format](report)
    if args.output:
        try:
            Path(args.output).write_text(rendered, encoding="utf-8")
        except OSError as error:
            print(f"site-status report: cannot write {args.output}: {error}", file=sys.stderr)
            return EXIT_USAGE
    else:
        sys.stdout.write(rendered)
    return 0
