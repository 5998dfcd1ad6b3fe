"""Text from outside, made safe to print on a terminal or to write as one log line.

A site name, a probe summary or an annotation is written by someone else. Printed raw, a
newline forges a second line (a log entry, a "GATE OK" line), an escape sequence moves the
cursor or clears what was printed, a C1 control (``\\x9b`` is a one-byte CSI on some terminals)
does the same, and a bidi override (U+202E) shows text in an order other than its bytes. Here
each of them is written as an escape (``\\n``, ``\\x1b``, ``\\u202e``): seen, never obeyed.
"""

from __future__ import annotations

import re

#: C0 controls (newline and tab included), DEL, C1 controls, the bidi embeddings, overrides,
#: isolates and marks, the line and paragraph separators, and lone surrogates (from bytes that
#: were not UTF-8: they cannot even be encoded to print).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match[0]
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control, bidi control and line break written as an escape."""
    return _UNSAFE.sub(_escaped, text)


def has_unsafe(text: str) -> bool:
    return _UNSAFE.search(text) is not None


#: What JSON leaves raw in its strings (``ensure_ascii=False``) but a terminal obeys: DEL, C1,
#: bidi controls, line separators, lone surrogates.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def json_visible(encoded: str) -> str:
    """JSON text with the characters of ``_JSON_UNSAFE`` written as ``\\uXXXX`` escapes: the
    same document once parsed, but ``tail -f`` on the file shows them instead of obeying them.
    (Outside strings JSON holds none of them, so every match is inside a string.)"""
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match[0]):04x}", encoded)
