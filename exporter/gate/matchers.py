"""``--match``: a PromQL label matcher list, parsed and written back, never pasted.

Pasted into a query, ``tier="x"} or vector(1) or {a="`` would change the query itself. Parsed,
only ``name op "value"`` items separated by commas get through, each written back with its
value quoted by us; anything else is refused in one line before a query is sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*")
#: PromQL's escapes in a quoted string (Go's): what a backslash may be followed by.
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}  # fmt: skip
#: A matcher list longer than this is not something a person typed.
MAX_LENGTH = 4096


class MatcherError(ValueError):
    """Not a label matcher list; the message says where and why."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def promql(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value, ensure_ascii=False)}"


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """``tier="priprod", environment=~"prod|stage"`` as matchers; ``MatcherError`` otherwise."""
    if len(text) > MAX_LENGTH:
        raise MatcherError(f"longer than {MAX_LENGTH} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MatcherError("not UTF-8 text") from None
    matchers: list[Matcher] = []
    position = 0
    body = text.strip().removeprefix("{").removesuffix("}") if text.strip() else ""
    while body[position:].strip():
        found = _NAME.match(body, position)
        if found is None:
            raise MatcherError(
                f'expected a label matcher like tier="priprod" at {body[position:][:40]!r}'
            )
        value, position = _quoted(body, found.end())
        matchers.append(Matcher(found[1], found[2], value))
        rest = body[position:].lstrip()
        if rest and not rest.startswith(","):
            raise MatcherError(f"expected ',' between matchers at {rest[:40]!r}")
        position = len(body) - len(rest) + (1 if rest else 0)
    return tuple(matchers)


def _quoted(body: str, start: int) -> tuple[str, int]:
    """The string value starting at ``start`` ("...", '...' or `...`) and where it ends."""
    quote = body[start : start + 1]
    if quote not in ('"', "'", "`"):
        raise MatcherError(f'the value must be quoted, as in tier="priprod": {body[start:][:40]!r}')
    value: list[str] = []
    index = start + 1
    while index < len(body):
        char = body[index]
        if char == quote:
            return "".join(value), index + 1
        if char == "\\" and quote != "`":
            escaped = body[index + 1 : index + 2]
            if escaped not in _ESCAPES:
                raise MatcherError(f"unknown escape \\{escaped} in a value")
            value.append(_ESCAPES[escaped])
            index += 2
            continue
        if char == "\n" and quote != "`":
            raise MatcherError("a newline inside a quoted value")
        value.append(char)
        index += 1
    raise MatcherError(f"a value without its closing {quote}")


def selector(metric: str, matchers: tuple[Matcher, ...]) -> str:
    """``metric{name="value", ...}``, every value quoted by us."""
    return metric + "{" + ", ".join(m.promql() for m in matchers) + "}"


def describe(matchers: tuple[Matcher, ...]) -> str:
    return "{" + ", ".join(m.promql() for m in matchers) + "}"
