"""What a text or HTML body that is no health format says: its first line stating a failure
(``Ingester not ready: this instance owns no tokens``, an HTML page's title or heading), else
its first line. Quoted in the summary when the code is not the one expected; a 2xx text body
is not searched for failure words (a page may mention errors and be fine)."""

from __future__ import annotations

import html
import re

from probes.http.health import vocabulary
from probes.http.health.common import one_line

#: Characters of a text body searched for its first failure line.
SEARCH_CAP = 8 * 1024
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:p|div|h[1-6]|br|li|tr|title|pre|hr|body|head)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]{0,2000}>")
_FAILURE = re.compile(
    r"\b(?:"
    + "|".join(
        sorted(
            (r"[\s_-]+".join(map(re.escape, word.split())) for word in vocabulary.FAILURE_WORDS
             if word not in ("no", "false", "red", "bad", "err"))  # too common in prose
            , key=len, reverse=True,
        )
    )
    + r"|not ready|exception|panic|refused|\b5\d\d\b)",
    re.IGNORECASE,
)  # fmt: skip


def said(text: str) -> str:
    """The line a non-2xx text or HTML body states its failure with, one-lined and capped;
    ``""`` for a body with no words."""
    lines = [line.strip() for line in visible_text(text[:SEARCH_CAP]).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if _FAILURE.search(line):
            return one_line(line, 200)
    return one_line(lines[0], 200) if lines else ""


def visible_text(text: str) -> str:
    """``text`` without markup when it looks like HTML: block tags become line breaks,
    scripts and styles go, entities are decoded."""
    if "<" not in text:
        return text
    text = _SCRIPT.sub(" ", text)
    text = _BLOCK_TAG.sub("\n", text)
    return html.unescape(_TAG.sub(" ", text))
