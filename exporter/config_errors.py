"""Config errors: a YAML path, a line, a message that never echoes the file's contents.

A config path may point at the wrong file (``/etc/shadow``): whatever it holds must not come
back on stderr or on the unauthenticated ``/healthz``. Keys are shown only when short and
key-like; quoted text from the file only when short.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: What a config key looks like: ``max_age``, ``X-Api-Key``, ``site.io/probe``.
_KEY_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]{0,47}")
#: Quoted text in a message, as Python's repr and PyYAML write it.
_QUOTED = re.compile(r"""'(?:[^'\\\n]|\\.){0,400}'|"(?:[^"\\\n]|\\.){0,400}\"""")
#: Quoted text from the file longer than this is replaced by its length.
MAX_QUOTED = 60


def shown_key(key: Any) -> str:
    """``key`` if it looks like a config key, else a placeholder that says what it is."""
    if isinstance(key, str) and _KEY_LIKE.fullmatch(key):
        return key
    if isinstance(key, str):
        return f"<key of {len(key)} characters>"
    return f"<{type(key).__name__} key>"


def format_path(loc: Sequence[Any]) -> str:
    """``probes[2].max_age.warning``; keys that do not look like keys are not shown."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = shown_key(part)
            text += f".{key}" if text else key
    return text


def without_contents(message: str) -> str:
    """``message`` on one line, long quoted text in it replaced by its length."""

    def shorten(match: re.Match[str]) -> str:
        quoted = match[0]
        if len(quoted) - 2 <= MAX_QUOTED:
            return quoted
        return f"<text of {len(quoted) - 2} characters>"

    return " ".join(_QUOTED.sub(shorten, message).split())[:500]


@dataclass(frozen=True, slots=True)
class ConfigError:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.path or '<config>'}{where}: {self.message}"


#: Errors shown at most: a list of 100,000 wrong values needs no 100,000 lines.
MAX_SHOWN_ERRORS = 100


class ConfigInvalid(Exception):
    def __init__(self, source: str, errors: Sequence[ConfigError]) -> None:
        self.source = source
        #: How many errors the config has; ``errors`` holds the first ``MAX_SHOWN_ERRORS``.
        self.count = len(errors)
        self.errors = [
            ConfigError(error.path, without_contents(error.message), error.line)
            for error in errors[:MAX_SHOWN_ERRORS]
        ]
        if len(self.errors) == 1:  # one line, for the errors that stop reading the file
            text = f"{source}: {self.errors[0]}"
        else:
            lines = "\n".join(f"  {error}" for error in self.errors)
            if self.count > len(self.errors):
                lines += f"\n  ... and {self.count - len(self.errors)} more"
            text = f"{source}: {self.count} error(s)\n{lines}"
        super().__init__(text)

    def summary(self) -> str:
        """The count and the first error's path, not its text (for ``/healthz``)."""
        first = self.errors[0] if self.errors else ConfigError("", "")
        where = first.path or "<config>"
        if first.line:
            where += f" (line {first.line})"
        return f"{self.count} error(s) in the config, the first at {where}"
