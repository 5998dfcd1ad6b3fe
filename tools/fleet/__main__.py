"""``python -m tools.fleet [--sites 200] [--compression 10] [--compact] [--json FILE] ...``.

Prints the figures and PASS/FAIL against the targets. Exit code 0 when the run completed (even if
a target failed), 1 when something broke (a program would not start, an exporter died early).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from tools.fleet import analyse, plots, report
from tools.fleet.run import Readings, play, running_fleet
from tools.processes import BenchmarkBroken


def parsed_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.fleet", description=__doc__)
    parser.add_argument("--sites", type=int, default=200, help="exporters (default 200)")
    parser.add_argument(
        "--compression",
        type=float,
        default=10.0,
        help="production timings are divided by this (default 10: 1 s stands for 10 s)",
    )
    parser.add_argument(
        "--drush-cpu",
        type=float,
        metavar="SECONDS",
        help="CPU each compressed site's drush run burns (default: drush's 1 s divided by "
        "--compression, its production cost per hour); 0 leaves the node to the exporters "
        "(the production-pace calibration sites still burn it: the cost figures keep it)",
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--markdown", type=Path, help="write the figure tables to this file")
    parser.add_argument("--plots", type=Path, help="write the PNG plots into this directory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="play scenes on different sites at once (the smoke test's short day)",
    )
    parser.add_argument(
        "--raw", type=Path, help="also write every reading to this file (pickle), for --from-raw"
    )
    parser.add_argument(
        "--from-raw",
        type=Path,
        help="no run: compute the figures again from a --raw file of an earlier run",
    )
    options = parser.parse_args(argv)
    if options.sites < 5:
        parser.error("--sites must be at least 5 (the day needs every tier twice)")
    if options.compression < 1:
        parser.error("--compression must be at least 1")
    if options.drush_cpu is not None and options.drush_cpu < 0:
        parser.error("--drush-cpu must be at least 0")
    return options


def raise_system_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    options = parsed_options(argv)
    if options.from_raw:
        with options.from_raw.open("rb") as file:
            readings: Readings = pickle.load(file)  # our own file, written by --raw
        return publish(readings, options)
    signal.signal(signal.SIGTERM, raise_system_exit)
    workdir = Path(tempfile.mkdtemp(prefix="site-status-fleet-"))
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - began:6.0f} s] {line}", file=sys.stderr, flush=True)

    try:
        log(f"starting {options.sites} exporters in {workdir}")
        with running_fleet(
            workdir,
            options.sites,
            options.compression,
            compact=options.compact,
            drush_cpu=options.drush_cpu,
        ) as fleet:
            log("all started; the day begins once Prometheus scrapes every exporter")
            setup = time.monotonic() - began
            readings = play(fleet, log)
            readings.setup_seconds = setup
            log("stopping")
    except BenchmarkBroken as error:
        print(f"fleet run broken: {error} (work directory {workdir})", file=sys.stderr)
        return 1
    finally:
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if options.raw:
        with options.raw.open("wb") as file:
            pickle.dump(readings, file)
    return publish(readings, options)


def publish(readings: Readings, options: argparse.Namespace) -> int:
    figures = analyse.figures_of(readings, os.cpu_count() or 0)
    print("\n".join(report.text_lines(figures)))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=1) + "\n")
    if options.markdown:
        options.markdown.write_text(report.markdown(figures))
    if options.plots:
        for path in plots.write_all(figures, options.plots):
            print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
