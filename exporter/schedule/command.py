"""``site-status windows``: the next openings of a schedule, so a person can check what they
wrote (and, with ``--argocd``, the same windows as an Argo CD AppProject's ``syncWindows``)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from exporter.schedule import timeline
from exporter.schedule.grammar import parse_rule
from exporter.schedule.listing import line
from exporter.schedule.rules import ScheduleError
from exporter.schedule.timeline import Timed

EXIT_USAGE = 2


def add_parser(commands: Any) -> None:
    windows = commands.add_parser(
        "windows",
        help="list the next openings of deploy-window or maintenance schedules",
        description=(
            "List the next openings of one or more schedules (the grammar of gate --window "
            "and of the config's maintenance), blackouts cut out. Exit 0, or 2 with one line "
            "when a schedule cannot be read."
        ),
    )
    windows.add_argument(
        "spec", nargs="*", help="e.g. 'first wed 18:00-22:00 Europe/Oslo' 'except 2026-12-24'"
    )
    windows.add_argument("--config", help="also the maintenance windows of this config file")
    windows.add_argument("--count", type=int, default=10, help="how many openings (default 10)")
    windows.add_argument(
        "--from",
        dest="since",
        metavar="TIME",
        help="list from this instant (ISO 8601, e.g. 2027-03-01T00:00Z; default now)",
    )
    windows.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="lines for people (default) or one JSON document",
    )
    windows.add_argument(
        "--mutes",
        metavar="ALERTMANAGER_YML",
        help="check that no opening overlaps a mute_time_interval of the routes of --tier in "
        "this Alertmanager config (exit 1 naming each overlap)",
    )
    windows.add_argument(
        "--tier", default="priprod", help="with --mutes: the tier whose routes count"
    )
    windows.add_argument(
        "--argocd",
        action="store_true",
        help="print the specs as an Argo CD AppProject's spec.syncWindows (YAML)",
    )


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rules(args: argparse.Namespace) -> list[Timed]:
    rules: list[Timed] = [parse_rule(spec) for spec in args.spec]
    if args.config:
        from exporter.config import load_config
        from exporter.registry import default_registry

        rules.extend(load_config(args.config, default_registry()).site.maintenance)
    return rules


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from exporter.config_errors import ConfigInvalid

    try:
        since = _instant(args.since)
    except ValueError:
        err.write(f"--from {args.since!r}: expected an ISO 8601 time, e.g. 2027-03-01T00:00Z\n")
        return EXIT_USAGE
    try:
        rules = _rules(args)
    except ScheduleError as error:
        err.write(f"{error}\n")
        return EXIT_USAGE
    except ConfigInvalid as error:
        err.write(f"invalid config {error}\n")
        return EXIT_USAGE
    if not rules:
        err.write("no schedule: give one or more specs, or --config\n")
        return EXIT_USAGE
    if args.argocd:
        from exporter.schedule.argocd import SyncWindowError, sync_windows_yaml

        try:
            out.write(sync_windows_yaml(args.spec, since))
        except SyncWindowError as error:
            err.write(f"{error}\n")
            return EXIT_USAGE
        return 0
    if args.mutes:
        return _check_mutes(args, rules, since, out, err)
    found = timeline.upcoming(rules, since, count=args.count)
    now = timeline.current(rules, since)
    if args.format == "json":
        document = {
            "from": since.isoformat(),
            "current": _opening_json(now) if now else None,
            "next": [_opening_json(opening) for opening in found],
        }
        out.write(json.dumps(document, indent=1) + "\n")
        return 0
    if now:
        out.write(f"open now: {line(now)}\n")
    if not found:
        out.write("no opening within a year\n")
    for opening in found:
        out.write(line(opening) + "\n")
    return 0


def _check_mutes(
    args: argparse.Namespace, rules: list[Timed], since: datetime, out: TextIO, err: TextIO
) -> int:
    import yaml

    from exporter.schedule.mutes import mutes_for_tier, overlaps
    from exporter.schedule.rules import Rule

    try:
        with open(args.mutes, encoding="utf-8") as file:
            config = yaml.safe_load(file) or {}
        mutes = mutes_for_tier(config, args.tier)
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as error:
        err.write(f"--mutes {args.mutes}: cannot read it as an Alertmanager config: {error}\n")
        return EXIT_USAGE
    except ScheduleError as error:
        err.write(f"--mutes {args.mutes}: {error}\n")
        return EXIT_USAGE
    windows = [rule for rule in rules if isinstance(rule, Rule)]
    found = overlaps(windows, mutes, since)
    for overlap in found:
        out.write(overlap.line() + "\n")
    names = ", ".join(sorted(mutes)) or "none"
    if found:
        err.write(f"{len(found)} overlap(s) with the {args.tier} mutes ({names}) in a year\n")
        return 1
    out.write(f"no deploy window overlaps the {args.tier} mutes ({names}) in the next year\n")
    return 0


def _opening_json(opening: timeline.Opening) -> dict[str, Any]:
    return {
        "start": opening.start.isoformat(),
        "end": opening.end.isoformat(),
        "zone": opening.zone,
        "reason": opening.reason,
    }
