"""What ``site-status check`` prints: the Nagios first line, then a table fitted for people.

Piped (or with ``NO_COLOR``), the output is plain and its shape never changes, since scripts and
Nagios read it. On a terminal the status words are coloured (never colour alone: the word is
always there) and the summary column is wrapped to the terminal's width, up to a few lines, then
cut with a marker.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from exporter.status import Status
from exporter.store import ProbeView
from exporter.visible_text import visible

#: SGR colours per status: green, yellow, red (bold), magenta.
_COLOURS = {
    Status.OK: "32",
    Status.WARNING: "33",
    Status.CRITICAL: "1;31",
    Status.UNKNOWN: "35",
}
#: A summary wraps to at most this many lines on a terminal; the rest is cut with CUT_MARKER.
MAX_SUMMARY_LINES = 3
CUT_MARKER = "…"
#: Below this many columns for the summary, wrapping helps nobody: it is cut to one line.
MIN_SUMMARY_WIDTH = 20
HEADER = ("PROBE", "KIND", "STATUS", "SUMMARY")


@dataclass(frozen=True)
class Terminal:
    """How to print: ``width`` None means unbounded (piped)."""

    colour: bool
    width: int | None


def terminal_of(stream: TextIO, environ: Mapping[str, str] = os.environ) -> Terminal:
    if not stream.isatty():
        return Terminal(colour=False, width=None)
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    colour = not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"
    return Terminal(colour=colour, width=shutil.get_terminal_size().columns)


def painted(status: Status, text: str, terminal: Terminal) -> str:
    return f"\x1b[{_COLOURS[status]}m{text}\x1b[0m" if terminal.colour else text


def status_line(rollup: Status, views: Sequence[ProbeView], terminal: Terminal) -> str:
    """Nagios plugin style: ``SITE-STATUS CRITICAL - probe: why; other: why``."""
    failing = sorted(
        (v for v in views if v.status is not Status.OK), key=lambda v: -v.rollup_status.severity
    )
    word = painted(rollup, rollup.name, terminal)
    if not failing:
        line = f"SITE-STATUS {word} - {len(views)} probe(s) OK"
    else:
        line = f"SITE-STATUS {word} - " + "; ".join(
            f"{visible(v.name)}: {visible(v.summary)}" for v in failing
        )
    if terminal.width is None:
        return line
    return _cut(line, terminal.width + len(word) - len(rollup.name))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)].rstrip() + CUT_MARKER


def summary_lines(summary: str, width: int | None) -> list[str]:
    if width is None:
        return [summary]
    if width < MIN_SUMMARY_WIDTH:
        return [_cut(summary, max(width, 1))]
    lines = textwrap.wrap(summary, width, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > MAX_SUMMARY_LINES:
        kept = lines[:MAX_SUMMARY_LINES]
        kept[-1] = _cut(kept[-1] + " " + lines[MAX_SUMMARY_LINES], width)
        if not kept[-1].endswith(CUT_MARKER):
            kept[-1] = _cut(kept[-1], width - 1) + CUT_MARKER
        return kept
    return lines


def status_table(views: Sequence[ProbeView], terminal: Terminal) -> str:
    # Names and summaries quote what probes read (a body, drush's text): shown, never obeyed.
    rows = [(visible(v.name), v.kind, v.status.name, visible(v.summary), v.status) for v in views]
    widths = [
        max([len(HEADER[0]), *(len(row[0]) for row in rows)]),
        max([len(HEADER[1]), *(len(row[1]) for row in rows)]),
        max([len(HEADER[2]), *(len(row[2]) for row in rows)]),
    ]
    if terminal.width is not None:
        # A long probe name may take at most a third of the line; the summary gets the rest.
        widths[0] = min(widths[0], max(len(HEADER[0]), terminal.width // 3))
    indent = sum(widths) + 2 * 3
    summary_width = None if terminal.width is None else terminal.width - indent
    out = [
        "  ".join(cell.ljust(width) for cell, width in zip(HEADER[:3], widths, strict=True))
        + "  "
        + HEADER[3]
    ]
    for name, kind, word, summary, status in rows:
        if terminal.width is not None:
            name = _cut(name, widths[0])
        cells = [
            name.ljust(widths[0]),
            kind.ljust(widths[1]),
            painted(status, word, terminal) + " " * (widths[2] - len(word)),
        ]
        first, *rest = summary_lines(summary, summary_width)
        out.append("  ".join(cells) + "  " + first)
        out.extend(" " * indent + line for line in rest)
    return "\n".join(line.rstrip() if terminal.width is not None else line for line in out)
