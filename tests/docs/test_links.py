"""Every relative link of README.md and docs/ points at a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def prose(text: str) -> str:
    """The text without fenced code blocks (a link there is an example, not a link)."""
    return FENCE.sub("", text)


def links(text: str) -> list[str]:
    # Code spans are dropped too, but only after links are found in the rest: a link's
    # text may itself be a code span ([`x`](x.md)).
    return [match.group(1) for match in LINK.finditer(prose(text))]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = CODE_SPAN.sub(lambda span: span.group(0).strip("`"), heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(prose(path.read_text())):
        anchor = slug(heading)
        candidate, n = anchor, 0
        while candidate in found:  # GitHub numbers repeated headings: x, x-1, x-2
            n += 1
            candidate = f"{anchor}-{n}"
        found.add(candidate)
    return found


def is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) and not target.startswith(
        "//"
    )


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in links(document.read_text()):
        if not is_relative(target):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading, with `code`\n\n## Twice\n\n## Twice\n")
    document = tmp_path / "doc.md"
    document.write_text(
        "# Top\n[ok](there.md) [ok](there.md#a-heading-with-code) [ok](there.md#twice-1)\n"
        "[web](https://example.org/x) [self](#top) ![image](there.md)\n"
        "[gone](missing.md) [no heading](there.md#nope) [self](#bottom)\n"
        "```\n[in code](also-missing.md)\n```\n"
    )
    assert broken_links(document) == [
        "missing.md: no such file",
        "there.md#nope: no heading #nope in there.md",
        "#bottom: no heading #bottom in doc.md",
    ]
