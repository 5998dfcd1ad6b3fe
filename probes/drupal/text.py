"""What of drush's output goes into a result: short, plain, and without secrets.

Drush's stderr on a failed bootstrap holds database URLs and, in PHP traces, settings arrays
with passwords; the status report's cron text holds the cron key. Everything shown passes
``scrub``: known secrets (secret-looking ``env`` values, the ``--uri`` password), passwords in
URLs, ``password => ...`` assignments and cron keys are masked.
"""

from __future__ import annotations

import re
from typing import Any

from exporter.command_runners import CommandOutput
from exporter.redact import (
    MASK,
    SECRET_PARAMETERS,
    redact,
    redact_secret_assignments,
    redact_urls_in,
    url_secrets,
)
from probes.drupal import failure
from probes.drupal.drush_requirements import plain_text

SUMMARY_CAP = 300
TAIL_LINES = 10
LINE_CAP = 300
_CRON_KEY = re.compile(r"(/cron/)[A-Za-z0-9_-]{8,}")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def config_secrets(env: dict[str, str], uri: str | None) -> list[str]:
    """Values to mask wherever they show up: secret-looking env values, the URI's password."""
    found = [value for name, value in env.items() if SECRET_PARAMETERS.search(name) and value]
    if uri:
        found += url_secrets(uri)
    return found


def scrub(text: str, secrets: list[str]) -> str:
    text = redact_secret_assignments(redact_urls_in(text))
    text = _CRON_KEY.sub(rf"\1{MASK}", text)
    return redact(text, secrets)


def capped(text: str, cap: int = SUMMARY_CAP) -> str:
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "…"


def tail_lines(data: bytes, secrets: list[str], count: int = TAIL_LINES) -> list[str]:
    """The last ``count`` non-blank lines, plain and scrubbed, each capped."""
    text = _ANSI.sub("", data[-64 * 1024 :].decode("utf-8", errors="replace"))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [capped(scrub(plain_text(line, 4 * LINE_CAP), secrets), LINE_CAP) for line in lines][
        -count:
    ]


#: Bytes of each stream searched for a failure's cause, from its start.
ERROR_SEARCH_BYTES = 64 * 1024


def error_line(output: CommandOutput, secrets: list[str]) -> str | None:
    """The line naming the failure's cause (``failure.first_cause``: stderr first, then
    stdout), plain, scrubbed and capped; None if none does."""
    for data in (output.stderr, output.stdout):
        found = failure.first_cause(data[:ERROR_SEARCH_BYTES].decode("utf-8", errors="replace"))
        if found:
            return capped(scrub(plain_text(found, 4 * LINE_CAP), secrets), LINE_CAP)
    return None


def last_plain_line(lines: list[str]) -> str:
    """The last of ``lines`` that could say why (not a stack frame, trace header or pointer to
    more output); ``""`` if none."""
    for line in reversed(lines):
        if not failure.never_a_cause(line):
            return line
    return ""


def output_tails(output: CommandOutput, secrets: list[str]) -> dict[str, Any]:
    """The ends of stdout and stderr, for a run that failed."""
    tails: dict[str, Any] = {}
    for name, data in (("stderr_tail", output.stderr), ("stdout_tail", output.stdout)):
        lines = tail_lines(data, secrets)
        if lines:
            tails[name] = lines
    return tails


def output_facts(output: CommandOutput) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "exit_code": output.exit_code,
        "seconds": round(output.duration, 3),
        "stdout_bytes": len(output.stdout),
    }
    if output.stdout_truncated:
        facts["stdout_truncated"] = True
    if output.stderr_truncated:
        facts["stderr_truncated"] = True
    return facts
