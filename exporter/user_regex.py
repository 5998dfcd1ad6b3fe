"""Regular expressions written by users (config, Kubernetes annotations) run on RE2.

Python's ``re`` backtracks: ``(a+)+$`` on a 30-byte body runs for minutes on the event loop,
holding the GIL, and no timeout can end it. RE2 matches in time linear in the text, at the cost
of a few features (backreferences such as ``\\1``, lookaround such as ``(?=...)`` and
``(?<!...)``, possessive quantifiers, ``\\Z``); a pattern RE2 refuses is a config error, found
when the config is validated. Our own fixed patterns keep using ``re``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Protocol

from pydantic import AfterValidator

if TYPE_CHECKING:
    import re2

#: Longer patterns are refused: a config holds words to look for, not programs.
MAX_PATTERN_LENGTH = 1000
#: RE2's memory budget for one compiled pattern (its default is 8 MiB).
MAX_PROGRAM_BYTES = 4 * 1024 * 1024
_HINT = " (RE2 syntax: no backreferences or lookaround)"


class CompiledRegex(Protocol):
    def search(self, text: str) -> object | None: ...


class UserRegexError(ValueError):
    """A pattern RE2 cannot run; the message says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid regular expression: {reason}{_HINT}")
        #: RE2's words alone (``missing ): iam(alive``).
        self.reason = reason


@functools.cache
def _options() -> re2.Options:
    # Imported on the first pattern (its RSS: docs/benchmarks.md): most sites have none.
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern on stderr
    options.max_mem = MAX_PROGRAM_BYTES
    return options


@functools.lru_cache(maxsize=512)
def compile_user_regex(pattern: str) -> CompiledRegex:
    """The compiled pattern, or ``UserRegexError`` with RE2's reason."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UserRegexError(f"longer than {MAX_PATTERN_LENGTH} characters")
    import re2

    try:
        compiled: CompiledRegex = re2.compile(pattern, _options())
    except re2.error as error:
        raise UserRegexError(_reason(error)) from None
    return compiled


def check_user_regex(pattern: str) -> str:
    """``pattern`` if RE2 accepts it (for validators), else ``UserRegexError``."""
    compile_user_regex(pattern)
    return pattern


def user_regex_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``, in linear time."""
    return compile_user_regex(pattern).search(text) is not None


def _reason(error: Exception) -> str:
    reason = error.args[0] if error.args else str(error)
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", errors="replace")
    return " ".join(str(reason).split())[:200]


#: A config field holding a user regex: validated by RE2 where the config is read.
UserRegex = Annotated[str, AfterValidator(check_user_regex)]
