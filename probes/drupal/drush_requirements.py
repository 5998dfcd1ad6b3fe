"""Reading ``drush core-requirements --format=json`` in every shape Drush has printed.

- Drush 11-13: an object keyed by requirement id (ids may hold spaces, dots, ``://``).
- Drush 10: rows keyed by a counter: a list, or an object with keys ``"3"``, ``"7"`` when rows
  were filtered out; the rows carry no id, so the title stands in for it. An empty result: ``[]``.
- ``sid`` as an int, a numeric string or a label (Drupal 11.2+); ``severity`` as a label;
  neither: info. Text may hold HTML (Drush 10.0-10.3 values) or render arrays: it becomes
  plain text, capped.
- Real sites print PHP notices and deprecation lines on stdout before (and after) the JSON.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

SeverityName = Literal["info", "ok", "warning", "error"]
INFO, OK, WARNING, ERROR = -1, 0, 1, 2
SEVERITY_NAMES: dict[int, SeverityName] = {
    INFO: "info",
    OK: "ok",
    WARNING: "warning",
    ERROR: "error",
}
SID_OF_NAME: dict[SeverityName, int] = {name: sid for sid, name in SEVERITY_NAMES.items()}
_SEVERITY_LABELS: dict[str, int] = {
    **{str(name): sid for name, sid in SID_OF_NAME.items()},
    "requirement_info": INFO,
    "requirement_ok": OK,
    "requirement_warning": WARNING,
    "requirement_error": ERROR,
}

TITLE_CAP = 200
VALUE_CAP = 500
DESCRIPTION_CAP = 1000
ID_CAP = 100

_JSON_START = re.compile(r"^[ \t]*[\[{]", re.MULTILINE)
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKING_TAG = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6]|hr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[!/?a-zA-Z][^>]*>")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: C0 and C1 controls, bidi embeddings, overrides, isolates and marks, line separators.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_SPACE = re.compile(r"\s+")


class NoRequirementsJson(ValueError):
    """stdout holds no JSON that looks like a requirements list."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One row of the status report, as plain text."""

    id: str
    title: str
    value: str
    description: str
    sid: int
    #: Set when the row's severity was not understood (it is then graded as a warning).
    severity_note: str | None = None

    @property
    def severity(self) -> SeverityName:
        return SEVERITY_NAMES[self.sid]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What one ``core-requirements`` output held."""

    rows: tuple[Requirement, ...]
    #: Lines printed before the JSON (PHP notices, deprecations).
    noise_lines: int = 0
    #: Entries that were not objects, and were skipped.
    malformed_rows: int = 0


def parse_requirements(stdout: bytes) -> Requirements:
    """The requirements in ``stdout``; raises NoRequirementsJson if there are none to find."""
    text = stdout.decode("utf-8", errors="replace")
    document, noise_lines = find_json(text)
    rows, malformed = normalized_rows(document)
    return Requirements(tuple(rows), noise_lines, malformed)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


def _int(text: str) -> int | float:
    # Python-level hooks: json's C scanner calls back into Python for every object and number,
    # so another thread (the event loop) gets the GIL back while 4 MiB of JSON are decoded.
    # Digits beyond what int() accepts (4300) are not a requirement: read as a float.
    return int(text) if len(text) < 4000 else float("inf")


def _float(text: str) -> float:
    return float(text)


#: One decoder for drush's JSON (requirements and status); see ``_int`` for why the hooks.
DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_int=_int, parse_float=_float)
#: JSON values tried at line starts before giving up: noise lines (`` [warning] ...``) are
#: cheap to reject, but each try may scan far, so their number is bounded.
MAX_JSON_CANDIDATES = 256


def decoded(text: str, start: int = 0) -> tuple[Any, int] | None:
    """The JSON value at ``start`` and where it ends; None if there is none (or it nests too
    deep for the decoder: ``[[[[...`` raises RecursionError, which is an answer, not a crash)."""
    try:
        return DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None


def find_json(text: str) -> tuple[Any, int]:
    """The first requirements-shaped JSON value that starts a line, and the lines before it."""
    stripped = text.strip()
    whole = decoded(stripped)
    if whole is not None and whole[1] == len(stripped) and looks_like_requirements(whole[0]):
        return whole[0], 0
    resume, tries = 0, 0
    for match in _JSON_START.finditer(text):
        start = match.end() - 1
        if start < resume:
            continue  # inside a JSON value already read
        tries += 1
        if tries > MAX_JSON_CANDIDATES:
            break
        found = decoded(text, start)
        if found is None:
            continue
        document, resume = found
        if looks_like_requirements(document):
            return document, text.count("\n", 0, start)
    raise NoRequirementsJson("no requirements JSON in drush's output")


def looks_like_requirements(document: Any) -> bool:
    """An object or list whose entries are mostly objects (or none): not a stray ``{"x": 1}``."""
    if isinstance(document, dict):
        entries = list(document.values())
    elif isinstance(document, list):
        entries = document
    else:
        return False
    objects = sum(1 for entry in entries if isinstance(entry, dict))
    return not entries or objects * 2 > len(entries)


def normalized_rows(document: Any) -> tuple[list[Requirement], int]:
    """Rows with ids: keys for Drush 11+, an ``id``/``name`` field or the title for Drush 10."""
    keyed_by_id = isinstance(document, dict) and not all(key.isdigit() for key in document)
    entries: Iterator[tuple[str | None, Any]] = (
        iter(document.items()) if keyed_by_id else ((None, entry) for entry in _values(document))
    )
    rows: list[Requirement] = []
    seen: set[str] = set()
    malformed = 0
    for number, (key, entry) in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            malformed += 1
            continue
        # Keys are outside input too: one line of plain text ("\n" as a key is drush's JSON).
        cleaned = plain_text(key, ID_CAP) if key is not None else ""
        requirement_id = unique_id(cleaned or row_id(entry, number), seen)
        rows.append(requirement(requirement_id, entry))
    return rows, malformed


def _values(document: Any) -> list[Any]:
    return list(document.values()) if isinstance(document, dict) else list(document)


def row_id(entry: Mapping[str, Any], number: int) -> str:
    for field in ("id", "name", "title"):
        value = entry.get(field)
        if isinstance(value, str | int) and str(value).strip():
            return plain_text(value, ID_CAP)
    return f"row {number}"


def unique_id(candidate: str, seen: set[str]) -> str:
    candidate = candidate[:ID_CAP] or "unnamed"
    found, n = candidate, 1
    while found in seen:
        n += 1
        found = f"{candidate} #{n}"
    seen.add(found)
    return found


def requirement(requirement_id: str, entry: Mapping[str, Any]) -> Requirement:
    sid, note = severity_of(entry)
    return Requirement(
        id=requirement_id,
        title=plain_text(entry.get("title"), TITLE_CAP) or requirement_id,
        value=plain_text(entry.get("value"), VALUE_CAP),
        description=plain_text(entry.get("description"), DESCRIPTION_CAP),
        sid=sid,
        severity_note=note,
    )


def severity_of(entry: Mapping[str, Any]) -> tuple[int, str | None]:
    """``sid`` first, then ``severity``; neither: info; not understood: warning, with a note."""
    not_understood = None
    for field in ("sid", "severity"):
        raw = entry.get(field)
        if raw is None or raw == "":
            continue
        sid = sid_of(raw)
        if sid is not None:
            return sid, None
        not_understood = not_understood or plain_text(raw, 40)
    if not_understood is not None:
        return WARNING, f"unrecognized severity {not_understood!r}"
    return INFO, None


def sid_of(raw: Any) -> int | None:
    """-1..2 from ``2``, ``2.0``, ``"2"``, ``"Error"``, ``"REQUIREMENT_ERROR"``; else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int):
        return raw if raw in SEVERITY_NAMES else None
    if isinstance(raw, str):
        text = raw.strip().lower()
        if re.fullmatch(r"[+-]?\d+", text):
            return sid_of(int(text))
        return _SEVERITY_LABELS.get(text)
    return None


def plain_text(value: Any, cap: int) -> str:
    """Any JSON value as one line of plain text: markup stripped, whitespace collapsed, capped."""
    text = " ".join(_strings(value))
    # Unescaped first, then stripped: ``&lt;script&gt;`` is markup once unescaped, and
    # stripping before would let it through as a literal ``<script>``.
    for _ in range(2):  # ``&amp;lt;`` is escaped twice
        if "&" in text:
            text = html.unescape(text)
    if "<" in text:
        text = _SCRIPT_OR_STYLE.sub(" ", text)
        text = _BREAKING_TAG.sub(" ", text)
        text = _TAG.sub("", text)
    text = _CONTROL.sub(" ", _ANSI.sub("", text))
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "…"


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The text in a value; render arrays (``{"#markup": ...}``) give their strings."""
    if value is None or isinstance(value, bool) or depth > 5:
        return
    if isinstance(value, str | int | float):
        yield str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not str(key).startswith("#") or key in ("#markup", "#plain_text", "#title"):
                yield from _strings(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)
