"""The ``report`` subcommand's options (no HTTP client imported: ``run``/``check`` load this)."""

from __future__ import annotations

import argparse
from typing import Any

from exporter.gate.matchers import Matcher, MatcherError, parse_matchers

FORMATS = ("markdown", "html", "csv", "json")


def _matchers(text: str) -> tuple[Matcher, ...]:
    try:
        return parse_matchers(text)
    except MatcherError as error:
        raise argparse.ArgumentTypeError(f"not a label matcher list: {error}") from None


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="availability, reliability, targets and incidents per tier and site, for a month",
        description=(
            "The service-level report operators hand on: per tier and site, availability and "
            "reliability for a calendar month (or --from/--to), the target and whether it was "
            "met, the error budget spent, minutes down, in maintenance and unknown, the "
            "incidents and the probes that failed most often. Exit 0, 2 on a usage error, "
            "3 when Prometheus cannot be reached."
        ),
    )
    report.add_argument(
        "--prometheus",
        required=True,
        metavar="URL",
        help="the Prometheus (or shared store) that holds the sites' series",
    )
    when = report.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", metavar="YYYY-MM", help="a calendar month in --timezone")
    when.add_argument("--from", dest="start", metavar="WHEN", help="start (a date or a time)")
    report.add_argument("--to", dest="end", metavar="WHEN", help="with --from: the end")
    report.add_argument(
        "--match",
        type=_matchers,
        default=(),
        metavar="MATCHERS",
        help="label matchers on site_status_site_info, as the gate has them, "
        'e.g. \'tier="priprod", environment="prod"\'',
    )
    report.add_argument(
        "--format",
        choices=FORMATS,
        default="markdown",
        help="markdown (a wiki or ticket), html (one file to attach), csv or json",
    )
    report.add_argument(
        "--timezone",
        default="UTC",
        metavar="ZONE",
        help="the months' and days' zone, e.g. Europe/Oslo (default UTC, as the recording rules)",
    )
    report.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    report.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="the longest one Prometheus query may take (default 120)",
    )
