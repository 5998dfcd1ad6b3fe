"""The ``site-status`` command: run, check (a Nagios/Icinga plugin too), validate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from functools import partial

import anyio

from exporter import __version__
from exporter.app import Exporter, ListenError
from exporter.config import ConfigInvalid, SiteStatusConfig, load_config, parse_listen
from exporter.context import ProbeRuntime
from exporter.gate.arguments import add_parser as add_gate_parser
from exporter.interrupts import until_signal
from exporter.log_format import log_handler
from exporter.memory import tune_malloc
from exporter.registry import KindRegistry, default_registry
from exporter.run_stats import RunStats
from exporter.schedule.command import add_parser as add_windows_parser
from exporter.scheduler import ProbeRunner, run_all_once
from exporter.service_report.arguments import add_parser as add_report_parser
from exporter.status import Status
from exporter.store import ResultStore, site_status
from exporter.web.status_doc import view_document

EXIT_CONFIG_INVALID = 2
LISTEN_ENV = "SITE_STATUS_LISTEN"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="site-status", description="Graded site status for Prometheus and Nagios."
    )
    parser.add_argument("--version", action="version", version=f"site-status {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--config",
            default=os.environ.get("SITE_STATUS_CONFIG"),
            help="YAML config file (env SITE_STATUS_CONFIG); none: the embedded default",
        )
        sub.add_argument(
            "--log-level",
            default="info",
            choices=["debug", "info", "warning", "error"],
            help="the least severe log records written to stderr (default: info)",
        )
        return sub

    run = with_config(commands.add_parser("run", help="serve /metrics until SIGTERM"))
    run.add_argument("--listen", help="HOST:PORT or :PORT (env SITE_STATUS_LISTEN; default :9918)")
    check = with_config(
        commands.add_parser(
            "check", help="run every probe once, print, exit with the rollup's Nagios code"
        )
    )
    check.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="a line and a table for people and Nagios (default), or one JSON document",
    )
    for sub in (run, check):
        sub.add_argument(
            "--context",
            default=os.environ.get("SITE_STATUS_KUBERNETES__CONTEXT"),
            help="Kubernetes through this kubeconfig context (turns kubernetes.enabled on)",
        )
    with_config(commands.add_parser("validate", help="check the config; exit 0 or 2"))
    add_gate_parser(commands)
    add_report_parser(commands)
    add_windows_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    tune_malloc()
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "warning").upper(), handlers=[log_handler(sys.stderr)]
    )
    # httpx logs every request at INFO: one line per probe run is noise, not news.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.command == "gate":
        # The HTTP client and the gate's sources load only for the gate.
        from exporter.gate.command import run as run_gate

        return run_gate(args)
    if args.command == "report":
        from exporter.service_report.command import run as run_report

        return run_report(args)
    if args.command == "windows":
        from exporter.schedule.command import run as run_windows

        return run_windows(args)
    registry = default_registry()
    command = {"run": _run, "check": _check, "validate": _validate}[args.command]
    return command(args, registry)


def _load(args: argparse.Namespace, registry: KindRegistry) -> SiteStatusConfig | None:
    try:
        return load_config(args.config, registry)
    except ConfigInvalid as error:
        print(f"invalid config {error}", file=sys.stderr)
        return None


def _validate(args: argparse.Namespace, registry: KindRegistry) -> int:
    config = _load(args, registry)
    listen_error = _listen_error(None)
    if listen_error:
        print(listen_error, file=sys.stderr)
    if config is None or listen_error:
        return EXIT_CONFIG_INVALID
    source = args.config or "embedded default config"
    if not config.probes and not config.kubernetes.enabled:
        print(f"invalid config {source}: no probes, nothing to check", file=sys.stderr)
        return EXIT_CONFIG_INVALID
    if not config.probes:
        print(f"{source}: valid, no probes of its own (Kubernetes discovery adds them)")
        return 0
    print(f"{source}: valid, {len(config.probes)} probe(s) for site {config.site.name}")
    from exporter.secret_check import unreadable_secret_files

    for line in unreadable_secret_files(config):
        why = "its probe is UNKNOWN wherever it is missing"
        print(f"warning: secret file {line} ({why})", file=sys.stderr)
    return 0


def _use_context(args: argparse.Namespace) -> None:
    """``--context``: as the env overrides, so that a SIGHUP reload keeps it."""
    if args.context:
        os.environ["SITE_STATUS_KUBERNETES__CONTEXT"] = args.context
        os.environ["SITE_STATUS_KUBERNETES__ENABLED"] = "true"


def _listen_error(flag: str | None) -> str | None:
    """One line about an unusable ``--listen`` or ``SITE_STATUS_LISTEN``, or None."""
    # An empty --listen is a mistake; an empty variable is unset (the Downward API's "").
    if flag is not None:
        origin, value = "--listen", flag
    else:
        origin, value = LISTEN_ENV, os.environ.get(LISTEN_ENV) or ""
        if not value:
            return None
    try:
        parse_listen(value)
    except ValueError as error:
        return f"invalid {origin}: {error}"
    return None


def _run(args: argparse.Namespace, registry: KindRegistry) -> int:
    listen_error = _listen_error(args.listen)
    if listen_error:
        print(listen_error, file=sys.stderr)
        return EXIT_CONFIG_INVALID
    _use_context(args)
    config = _load(args, registry)
    if config is None:
        return EXIT_CONFIG_INVALID
    # A scrape thread waiting for the GIL waits up to one switch interval (5 ms by default)
    # while the event loop runs probes; 1 ms keeps /metrics quick at a small cost in switches.
    sys.setswitchinterval(0.001)
    listen = args.listen or os.environ.get(LISTEN_ENV) or None
    exporter = Exporter(config, registry, args.config, listen=listen)
    try:
        anyio.run(exporter.serve)
    except ListenError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG_INVALID
    return 0


def _check(args: argparse.Namespace, registry: KindRegistry) -> int:
    _use_context(args)
    config = _load(args, registry)
    if config is None:
        print("SITE-STATUS UNKNOWN - invalid config")
        return int(Status.UNKNOWN)
    store = ResultStore()
    runtime = ProbeRuntime.with_roots(config.exporter.proc_root, config.exporter.sys_root)
    runner = ProbeRunner(registry, runtime, RunStats())
    if config.kubernetes.enabled:  # discovered probes too (exporter/kube/once.py)
        from exporter.kube.once import run_once_with_discovery

        work = partial(run_once_with_discovery, runner, config, store, registry)
    else:
        work = partial(run_all_once, runner, config, store, config.exporter.concurrency)
    anyio.run(until_signal, work, "while the probes ran")
    views = store.views(time.time())
    rollup = site_status(views)
    if not views:  # a check of nothing is no OK
        return _no_probes(args, config)
    if args.format == "json":
        document = {
            "site": config.site.name,
            "status": rollup.name,
            "code": int(rollup),
            "probes": [view_document(view) for view in views],
        }
        print(json.dumps(document, indent=1, default=str))
    else:
        # The table's code is only for ``check``: not in the memory of a running exporter.
        from exporter.check_output import status_line, status_table, terminal_of

        terminal = terminal_of(sys.stdout)
        print(status_line(rollup, views, terminal))
        print(status_table(views, terminal))
    # Leave at once: a call abandoned on a hung mount must not hold up the plugin's exit.
    sys.stdout.flush()
    os._exit(int(rollup))


def _no_probes_reason(args: argparse.Namespace, config: SiteStatusConfig) -> str:
    source = args.config or "embedded default config"
    if config.kubernetes.enabled:
        return f"no probes: {source} has none and Kubernetes discovery found none"
    return f"no probes: {source} has none, so nothing is checked (add a probes: list)"


def _no_probes(args: argparse.Namespace, config: SiteStatusConfig) -> int:
    reason = _no_probes_reason(args, config)
    if args.format == "json":
        document = {"site": config.site.name, "status": "UNKNOWN", "code": 3, "summary": reason}
        print(json.dumps({**document, "probes": []}, indent=1))
    else:
        print(f"SITE-STATUS UNKNOWN - {reason}")
    return int(Status.UNKNOWN)


if __name__ == "__main__":
    from exporter.entry import main as console_script

    sys.exit(console_script())
