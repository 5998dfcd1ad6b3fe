"""Which line of a failed drush run names its cause, for every Drush and PHP style:

- Symfony console blocks (Drush 9+): ``In BootstrapHook.php line 32:``, then the message on
  the next non-blank line (an ``[Exception]`` class line skipped);
- PHP's own: ``PHP Fatal error:  Uncaught TypeError: ...`` (stderr log), ``Fatal error: Allowed
  memory size of ... exhausted`` (display_errors on stdout);
- Drush 8's log, the level right-aligned at the end: ``Drush was not able to start (bootstrap)
  the Drupal database.        [error]``, ``exception 'PDOException' with message 'SQLSTATE...'
  in        [error]``; Drush 9+'s, the level first: `` [error]  TypeError: ...``;
- a bare ``TypeError: ...``, ``PDOException: SQLSTATE[...]``, ``Error: Call to undefined
  function ...``, also inside Drupal 7's HTML exception page.

Drush's generic lines (``Drush command terminated abnormally ...``, ``... needs a higher
bootstrap level ...``, ``The drush command '...' could not be executed.``) only count when
nothing else is there. A stack frame (``#3 /path/file.inc(12): ...``), a trace header, a line
pointing elsewhere (``See http://... for details.``) is never the cause.
"""

from __future__ import annotations

import html
import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_HTML_BREAK = re.compile(r"<\s*/?\s*(?:p|h[1-6]|br|hr|div|li|pre)\b[^>]{0,200}>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^<>]{0,200}>")
_SYMFONY_HEADER = re.compile(r"^\s*In \S+ line \d+:\s*$")
_EXCEPTION_CLASS = re.compile(r"^\s*\[[\w\\]+\]\s*$")
_PHP = re.compile(r"^\s*(?:PHP\s+)?(?:Fatal|Parse|Catchable fatal) error:\s*(?P<reason>.+)", re.I)
#: Drush 8's right-aligned levels that mean failure (checked on the line's end, not by a regex:
#: lines of drush output can be long).
LEVELS_LAST = ("[error]", "[critical]", "[emergency]", "[alert]")
_LEVEL_FIRST = re.compile(r"^\s*\[(?:error|critical|emergency|alert)\]\s+(?P<reason>.+)", re.I)
_BARE = re.compile(r"^\s*(?P<reason>(?:[A-Za-z_][\w\\]*)?(?:Error|Exception):\s.+)")
_WITH_MESSAGE = re.compile(r"exception '(?P<cls>[\w\\]+)' with message '(?P<msg>.*?)'(?: in|$)")
_INLINE_TRACE = re.compile(r"\s+(?:#0\s|Stack trace:).*$")
_NEVER = re.compile(
    r"^\s*#\d+\s|^\s*(?:Stack|Exception) trace:?|\bfor details\b|https?://|^\s*\{main\}",
    re.IGNORECASE,
)
_GENERIC = re.compile(
    r"terminated abnormally|needs a higher bootstrap level|could not be executed"
    r"|external command could not be executed",
    re.IGNORECASE,
)


def first_cause(text: str) -> str | None:
    """The line of ``text`` (drush's stderr or stdout) that names the failure's cause, without
    its level marker or the stack trace printed on the same line; None if none does."""
    generic: str | None = None
    lines = readable_lines(text)
    for number, line in enumerate(lines):
        if _SYMFONY_HEADER.match(line):
            message = block_message(lines[number + 1 :])
            if message:
                return message
            continue
        reason = line_cause(line)
        if reason is None or _NEVER.search(reason):
            continue
        if _GENERIC.search(reason):
            generic = generic or reason
            continue
        return reason
    return generic


def readable_lines(text: str) -> list[str]:
    """The lines of ``text``: colours removed; an HTML page (Drupal 7's exception page on
    stdout) reduced to its text, one line per block."""
    text = _ANSI.sub("", text)
    if "</" in text or "<br" in text.lower():
        text = html.unescape(_HTML_TAG.sub("", _HTML_BREAK.sub("\n", text)))
    return text.splitlines()


def line_cause(line: str) -> str | None:
    """The reason a line states, in whichever style it uses; None for a line stating none."""
    reason = level_last(line)
    if reason is None:
        for pattern in (_PHP, _LEVEL_FIRST, _BARE):
            match = pattern.match(line)
            if match is not None:
                reason = match.group("reason").strip()
                break
    if reason is None:
        return None
    quoted = _WITH_MESSAGE.search(reason)
    if quoted is not None:
        return f"{quoted.group('cls')}: {quoted.group('msg')}"
    return _INLINE_TRACE.sub("", reason).strip() or None


def level_last(line: str) -> str | None:
    """``"Drush was not able to start ..."`` from Drush 8's ``"Drush was ...   [error]"``."""
    stripped = line.rstrip()
    lowered = stripped[-12:].lower()
    for marker in LEVELS_LAST:
        if lowered.endswith(marker):
            return stripped[: -len(marker)].strip() or None
    return None


def block_message(lines: list[str]) -> str | None:
    """The message of a Symfony console block: its first non-blank line after the header
    that is not the ``[Exception]`` class line (later lines add context, such as the DSN a
    connection failed on, not the cause)."""
    for line in lines:
        if not line.strip() or _EXCEPTION_CLASS.match(line):
            continue
        return None if _NEVER.search(line) or _SYMFONY_HEADER.match(line) else line.strip()
    return None


def never_a_cause(line: str) -> bool:
    """A stack frame, a trace header, a URL or a "for details" pointer."""
    return _NEVER.search(line) is not None
