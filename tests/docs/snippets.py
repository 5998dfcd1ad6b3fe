"""Committed example files, and the fenced blocks of the docs that show them."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

_FENCED = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def fenced_blocks(document: Path, language: str) -> list[str]:
    """The blocks in ``language``; one indented under a list item comes back dedented."""
    return [
        textwrap.dedent(body)
        for _indent, lang, body in _FENCED.findall(document.read_text())
        if lang == language
    ]


def readme_commands() -> list[str]:
    """The README's commands for a fresh machine: its first ``sh`` block without comments.
    scripts/check-fresh-debian runs them on a minimal Debian (all but the last, the tests)."""
    block = fenced_blocks(REPO / "README.md", "sh")[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def body(example: Path) -> str:
    """The example without its leading comment lines (the doc says that part in prose)."""
    lines = example.read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def shown_in(document: Path, example: Path, language: str = "yaml") -> bool:
    """The doc has a block that is the example (so a reader copies what the tests run)."""
    return body(example) in fenced_blocks(document, language)
