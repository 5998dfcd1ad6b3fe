"""The ``site-status`` console script: the signal policy first, then the command.

Nothing heavy is imported before :func:`exporter.interrupts.install` runs, so that a Ctrl-C
while the command is still importing its libraries ends it as cleanly as one later on.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Sequence

from exporter.interrupts import Interrupted, install


def command_of(argv: Sequence[str]) -> str:
    """The subcommand: the first word that is not an option (the global options take none)."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def interrupted(stop: Interrupted, command: str) -> tuple[str, int]:
    """The one line and the exit code: ``run`` was asked to stop and did (0); any other
    command was cut short before its answer (128 + the signal's number)."""
    name = f"site-status {command}".rstrip()
    detail = f" {stop.detail}" if stop.detail else ""
    if command == "run":
        return f"{name}: stopped by {stop.name}{detail or ' while starting'}", 0
    return f"{name}: interrupted by {stop.name}{detail}, no result", stop.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    install()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        from exporter.cli import main as run_command

        return run_command(args)
    except (Interrupted, KeyboardInterrupt) as error:
        for signum in (signal.SIGINT, signal.SIGTERM):  # already leaving: a second one waits
            signal.signal(signum, signal.SIG_IGN)
        stop = error if isinstance(error, Interrupted) else Interrupted(signal.SIGINT)
        line, code = interrupted(stop, command_of(args))
        with contextlib.suppress(OSError, ValueError):  # a closed pipe must not hide the line
            sys.stdout.flush()
        # After the terminal's echo of Ctrl-C (^C), on a line of its own.
        fresh_line = "\n" if stop.signum == signal.SIGINT and sys.stderr.isatty() else ""
        print(fresh_line + line, file=sys.stderr, flush=True)
        return code


if __name__ == "__main__":
    sys.exit(main())
