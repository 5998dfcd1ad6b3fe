"""What every health format shares: the verdict, text and JSON helpers, the summary."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.status import Status, worst

#: Components kept in a verdict; the most severe are kept first, the rest counted.
MAX_COMPONENTS = 100
#: Characters kept of a component's output, of the summary, of a name.
OUTPUT_CAP = 300
SUMMARY_CAP = 300
NAME_CAP = 100
#: Component names listed in a summary, and characters kept of each there.
SUMMARY_NAMES = 5
SUMMARY_NAME_CAP = 40

_UNPRINTABLE_RUN = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True, slots=True)
class Component:
    """One graded part of a healthz answer (``etcd``, ``db:connections``, ``db.primary``)."""

    name: str
    status: Status
    output: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A graded healthz answer: status, one line saying why, the format used, its parts.

    ``format`` is the format actually used; under ``auto`` it stays ``"auto"`` only when the
    body could not be read well enough to pick one (invalid JSON under a JSON content type,
    JSON that is not an object, a JSON body cut at the size cap).
    """

    status: Status
    summary: str
    format: str
    components: tuple[Component, ...] = ()


# --- shared text helpers ------------------------------------------------------------------


def decoded(body: bytes) -> str:
    """The body as text: UTF-8, undecodable bytes replaced, a leading BOM dropped."""
    return body.decode("utf-8", errors="replace").removeprefix("\ufeff")


def one_line(text: str, limit: int = OUTPUT_CAP) -> str:
    """``text`` on one line (runs of whitespace and control characters become one space),
    at most ``limit`` characters."""
    flat = _UNPRINTABLE_RUN.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def text_of(value: object) -> str:
    """A JSON value as text: strings as they are, ``null`` as nothing, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def media_type(content_type: str) -> str:
    """``application/json`` from ``Application/JSON; charset=utf-8``."""
    return content_type.partition(";")[0].strip().lower()


def is_json_media(media: str) -> bool:
    return media.endswith(("/json", "+json"))


def is_success(status_code: int) -> bool:
    """2xx-3xx: the answer a healthy endpoint gives."""
    return 200 <= status_code < 400


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, one-lined and capped."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line, 120)
    return ""


def plural(noun: str, count: int) -> str:
    return noun if count == 1 else noun + "s"


# --- JSON -----------------------------------------------------------------------------------


def json_object(text: str) -> dict[str, Any] | str:
    """The JSON object in ``text``, or why there is none (``"invalid JSON: ..."``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        return f"invalid JSON: {one_line(str(exc), 80)}"
    if not isinstance(value, dict):
        return f"JSON {json_type(value)}, not an object"
    return value


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (``array``, ``string``, ...)."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def graded_word(raw: object, table: Mapping[str, Status], *, missing: Status) -> tuple[Status, str]:
    """A ``status`` field graded by ``table`` (any case), and a note when it was not understood
    (``"no status"``, ``"unknown status 'degraded'"``); the note is empty otherwise."""
    if raw is None:
        return missing, "" if missing is not Status.UNKNOWN else "no status"
    if isinstance(raw, str) and raw.lower() in table:
        return table[raw.lower()], ""
    return Status.UNKNOWN, f"unknown status {one_line(text_of(raw), 40)!r}"


def document_verdict(
    fmt: str,
    word: str,
    top: Status,
    components: Sequence[Component],
    status_code: int,
    *,
    noun: str,
    needs_success: Collection[Status],
    output: str = "",
) -> Verdict:
    """The verdict on a JSON health document: its own status (``word``/``top``), made worse by
    an HTTP code that contradicts it or by a component worse than it."""
    status = top
    lead = word
    if top in needs_success and not is_success(status_code):
        status = Status.CRITICAL
        lead = f"status {word} but HTTP {status_code}"
    problems = problems_text(components, noun)
    worst_part = worst(component.status for component in components)
    if worst_part.worse_than(status):
        status = worst_part
        summary = f"{lead} but {problems}"
    elif problems:
        summary = f"{lead}: {problems}"
    elif components:
        summary = f"{lead}: {len(components)} {plural(noun, len(components))} ok"
    else:
        summary = lead
    if output:
        summary += f"; {one_line(output, 80)}"
    return capped_verdict(status, summary, fmt, components, noun)


def problems_text(components: Sequence[Component], noun: str) -> str:
    """``"2 of 5 checks failing (etcd, db); 1 warning (cache)"``, or ``""`` when all are OK."""
    groups = (
        ("failing", Status.CRITICAL),
        ("unknown", Status.UNKNOWN),
        ("warning", Status.WARNING),
    )
    parts: list[str] = []
    for label, status in groups:
        names = [component.name for component in components if component.status is status]
        if not names:
            continue
        count = str(len(names))
        if not parts:
            count += f" of {len(components)} {plural(noun, len(components))}"
        parts.append(f"{count} {label} ({listed(names)})")
    return "; ".join(parts)


def listed(names: Sequence[str]) -> str:
    """The first few names, shortened, and how many more there are."""
    shown = [one_line(name, SUMMARY_NAME_CAP) for name in names[:SUMMARY_NAMES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f", +{more} more" if more else "")


def capped_verdict(
    status: Status, summary: str, fmt: str, components: Sequence[Component], noun: str
) -> Verdict:
    """A verdict keeping at most ``MAX_COMPONENTS`` components (the most severe ones, in their
    original order), saying in the summary how many were dropped."""
    kept = kept_components(components)
    dropped = len(components) - len(kept)
    if dropped:
        summary = (
            f"{one_line(summary, SUMMARY_CAP - 40)}; "
            f"{dropped} more {plural(noun, dropped)} not kept (cap {MAX_COMPONENTS})"
        )
    return Verdict(status, one_line(summary, SUMMARY_CAP), fmt, kept)


def kept_components(components: Sequence[Component]) -> tuple[Component, ...]:
    """The ``MAX_COMPONENTS`` most severe components, in their original order."""
    if len(components) <= MAX_COMPONENTS:
        return tuple(components)
    by_severity = sorted(
        range(len(components)), key=lambda index: (-components[index].status.severity, index)
    )
    return tuple(components[index] for index in sorted(by_severity[:MAX_COMPONENTS]))
