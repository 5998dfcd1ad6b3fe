"""The ``gate`` subcommand's options (no HTTP client imported: ``run``/``check`` load this too)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from exporter.gate.matchers import Matcher, MatcherError, parse_matchers
from exporter.gate.urls import exporter_url, prometheus_url
from exporter.gate.windows import WindowSpecError, parse_window
from exporter.schedule.rules import Rule
from exporter.units import parse_duration


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


#: A lookback, a watch or a grace longer than this is a typo, not a plan.
MAX_DURATION = 31 * 24 * 3600.0


def _bounded_duration(text: str) -> float:
    seconds = _duration(text)
    if seconds > MAX_DURATION:
        raise argparse.ArgumentTypeError(f"{text!r} is longer than 31 days")
    return seconds


def _lookback(text: str) -> float:
    seconds = _bounded_duration(text)
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a lookback is at least 1s")
    return seconds


def _matchers(text: str) -> tuple[Matcher, ...]:
    try:
        return parse_matchers(text)
    except MatcherError as error:
        raise argparse.ArgumentTypeError(f"not a label matcher list: {error}") from None


def _window(text: str) -> list[Rule]:
    try:
        return parse_window(text)
    except WindowSpecError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"--window {text!r}: ")) from None


def add_parser(commands: Any) -> None:
    gate = commands.add_parser(
        "gate",
        help="pass (0) when every site is at most --max-status, else fail (1); for pipelines",
        description=(
            "Is it safe to roll out, and did the rollout hold? Exit 0 pass, 1 fail, "
            "2 usage or config error, 3 unknown (cannot reach the source)."
        ),
    )
    _add_source(gate)
    gate.add_argument(
        "--promote-from",
        type=_matchers,
        default=None,
        metavar="MATCHERS",
        help="with --prometheus: a promotion check; each site --match selects is judged by its "
        "namesake among these, e.g. --match 'cluster=\"prod\"' --promote-from "
        "'cluster=\"test\"'",
    )
    gate.add_argument(
        "--max-status",
        choices=["ok", "warning"],
        default="ok",
        help="the worst site rollup that passes (default: ok)",
    )
    gate.add_argument(
        "--allow-empty",
        action="store_true",
        help="pass when no site matches (default: that fails: a typo in --match is no pass)",
    )
    gate.add_argument(
        "--allow-missing", action="store_true", help="a site with no data does not fail the gate"
    )
    gate.add_argument(
        "--fail-in-maintenance",
        action="store_true",
        help="a site in a maintenance window fails like any other (default: reported, excused)",
    )
    gate.add_argument(
        "--watch",
        type=_bounded_duration,
        metavar="DURATION",
        help="keep watching this long (e.g. 1h)",
    )
    gate.add_argument(
        "--grace",
        type=_bounded_duration,
        metavar="DURATION",
        help="with --watch: a degradation fails once it lasts this long "
        "(default: one interval of the failing probe; 60s through Prometheus)",
    )
    gate.add_argument(
        "--poll",
        type=_bounded_duration,
        default=5.0,
        metavar="DURATION",
        help="with --watch: how often to read the source (default: 5s)",
    )
    gate.add_argument(
        "--wait-first-result",
        type=_bounded_duration,
        metavar="DURATION",
        help="without --watch: wait this long for probes with no result yet (an exporter "
        "that has just started) before judging them UNKNOWN; 0: do not wait "
        "(default: twice their interval, at most 10m)",
    )
    gate.add_argument(
        "--window",
        type=_window,
        action="append",
        metavar="SPEC",
        help="deploy window, e.g. 'mon-thu 10:00-15:00 Europe/Oslo', "
        "'first wed 18:00-22:00 Europe/Oslo', 'except 2026-12-21..2027-01-03'; repeatable; "
        "outside every window the gate fails (docs/gate.md)",
    )
    gate.add_argument(
        "--lookback",
        type=_lookback,
        default=3600.0,
        metavar="DURATION",
        help="with --prometheus: a site seen this recently but with no data now is missing "
        "(default: 1h)",
    )
    gate.add_argument(
        "--timeout",
        type=_bounded_duration,
        default=10.0,
        metavar="DURATION",
        help="the whole of one HTTP request to the source (default: 10s)",
    )
    gate.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="lines for people (default) or one JSON document",
    )
    gate.add_argument(
        "--override",
        metavar="REASON",
        help="pass a failing gate (a freeze, outside the window, a failing site) on purpose; "
        "the reason is recorded (Loki or --audit-file, and an Event in a cluster)",
    )
    gate.add_argument(
        "--no-freeze",
        action="store_true",
        help="with --watch: a failed watch does not freeze the failing sites",
    )
    _add_audit(gate)
    actions = gate.add_subparsers(dest="action", metavar="[freeze|unfreeze]")
    for name, words in (
        ("freeze", "put the sites in a deploy freeze: every later gate fails on it"),
        ("unfreeze", "lift the sites' deploy freeze"),
    ):
        action = actions.add_parser(name, help=words, description=words + " (docs/gate.md).")
        _add_source(action)
        action.add_argument("--reason", required=True, help="why (recorded, and shown)")
        action.add_argument("--timeout", type=_bounded_duration, default=10.0, metavar="DURATION")
        action.add_argument("--lookback", type=_lookback, default=3600.0, metavar="DURATION")
        action.add_argument("--allow-missing", action="store_true", help=argparse.SUPPRESS)
        _add_audit(action)


def _add_source(parser: argparse.ArgumentParser) -> None:
    # Not required here: ``gate freeze`` has its own; command.py says when neither is given.
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--url",
        action="append",
        type=exporter_url,
        metavar="URL",
        help="an exporter, its base URL or its /status (http://site-status:9918); repeatable",
    )
    source.add_argument(
        "--prometheus",
        type=prometheus_url,
        metavar="URL",
        help="many sites through Prometheus (http://prometheus:9090)",
    )
    parser.add_argument(
        "--match",
        type=_matchers,
        default=(),
        metavar="MATCHERS",
        help="with --prometheus: label matchers on site_status_site_info, "
        'e.g. \'tier="priprod", environment="prod"\'',
    )


def _add_audit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", metavar="WHO", help="who acts (default: the CI user, or the host)")
    parser.add_argument(
        "--namespace",
        metavar="NS",
        help="where the sites' exporter Deployment is (default: the namespace label through "
        "Prometheus, else the pod's own namespace)",
    )
    parser.add_argument(
        "--deployment", default="site-status", help="the exporter's Deployment (its freeze)"
    )
    parser.add_argument(
        "--loki",
        metavar="URL",
        default=os.environ.get("SITE_STATUS_AUDIT_LOKI"),
        help="audit records (freeze, unfreeze, override) to this Loki (env SITE_STATUS_AUDIT_LOKI)",
    )
    parser.add_argument(
        "--audit-file", type=Path, metavar="PATH", help="audit records to this JSONL file too"
    )
