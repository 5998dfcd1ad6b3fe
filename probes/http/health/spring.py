"""Spring Boot actuator: ``status`` UP/OUT_OF_SERVICE/DOWN/UNKNOWN or an application's own
word, nested ``components`` (2.2+), ``details`` (2.0-2.1), or indicators beside ``status``
at the top (1.x)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from exporter.status import Status, worst
from probes.http.health.common import (
    NAME_CAP,
    Component,
    Options,
    Verdict,
    document_verdict,
    graded_word,
    joined,
    json_type,
    one_line,
    scalar_text,
    text_of,
)

NAME = "spring"
#: Components nested deeper than this are graded as one component.
MAX_DEPTH = 16
STATUS_WORDS: Mapping[str, Status] = {
    "up": Status.OK,
    "out_of_service": Status.WARNING,
    "down": Status.CRITICAL,
    "unknown": Status.UNKNOWN,
}
#: Keys of a health object that are never sub-indicators (1.x puts indicators beside them).
_OWN_KEYS = frozenset({"status", "description", "details", "components", "groups", "error"})


def looks_like(document: Mapping[str, Any]) -> bool:
    """``components``, a Spring status word, or 1.x indicators beside the status."""
    if isinstance(document.get("components"), Mapping):
        return True
    raw = document.get("status")
    if isinstance(raw, str) and raw.lower() in STATUS_WORDS:
        return True
    return isinstance(raw, str) and bool(children(document))


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    """Grade a Spring Boot actuator health document: its top-level status is the grade
    (Spring aggregates its components by an order the application may configure), made worse
    only by a component whose own word the user graded with ``status_map``."""
    return document_verdict(
        NAME,
        document.get("status"),
        STATUS_WORDS,
        list(components(document, options)),
        status_code,
        options,
        noun="component",
        top_decides=True,
        word_case=str.upper,
        floor=mapped_worst(document, options),
    )


def mapped_worst(node: Mapping[str, Any], options: Options, depth: int = 0) -> Status:
    """The worst grade ``status_map`` gives a component under ``node``."""
    found = Status.OK
    if depth > MAX_DEPTH or not options.status_map:
        return found
    for _key, child in children(node):
        if not isinstance(child, Mapping):
            continue
        word = child.get("status")
        if isinstance(word, str) and word.lower() in options.status_map:
            found = worst((found, options.status_map[word.lower()]))
        found = worst((found, mapped_worst(child, options, depth + 1)))
    return found


def components(
    node: Mapping[str, Any], options: Options, prefix: str = "", depth: int = 0
) -> Iterator[Component]:
    """The leaves under ``node``, named by their dotted path (``db.primary``)."""
    for key, child in children(node):
        name = one_line(f"{prefix}.{key}" if prefix else key, NAME_CAP)
        if not isinstance(child, Mapping):
            yield Component(name, Status.UNKNOWN, f"not a health object but a {json_type(child)}")
        elif not children(child):
            yield leaf(name, child, options)
        elif depth >= MAX_DEPTH:
            status, note = graded_word(
                child.get("status"), STATUS_WORDS, options, missing=Status.UNKNOWN
            )
            yield Component(name, status, note or f"nested deeper than {MAX_DEPTH} levels")
        else:
            yield from components(child, options, name, depth + 1)


def children(node: Mapping[str, Any]) -> list[tuple[str, object]]:
    """A node's sub-indicators: its ``components``; or (2.0-2.1) a ``details`` object whose
    every value is a health object; or (1.x) the health objects beside its ``status``."""
    nested = node.get("components")
    if isinstance(nested, Mapping):
        return [(str(key), value) for key, value in nested.items()]
    details = node.get("details")
    if isinstance(details, Mapping) and details and all(map(is_health, details.values())):
        return [(str(key), value) for key, value in details.items()]
    return [
        (str(key), value)
        for key, value in node.items()
        if key not in _OWN_KEYS and is_health(value)
    ]


def is_health(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("status"), str)


def leaf(name: str, node: Mapping[str, Any], options: Options) -> Component:
    """A leaf graded by its ``status``; output is its error (``details.error``, or 1.x
    ``error``), else for a leaf that is not UP its description or scalar details."""
    status, note = graded_word(node.get("status"), STATUS_WORDS, options, missing=Status.UNKNOWN)
    details = node.get("details")
    details = details if isinstance(details, Mapping) else {}
    reason = text_of(details.get("error")) or text_of(node.get("error"))
    if not reason and status is not Status.OK:
        reason = text_of(node.get("description")) or scalar_text(details or node, ("status",))
    return Component(name, status, joined(note, reason))
