"""Spring Boot actuator: ``status`` UP/OUT_OF_SERVICE/DOWN/UNKNOWN, nested ``components``
(older documents nest ``details``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from exporter.status import Status
from probes.health.common import (
    NAME_CAP,
    Component,
    Verdict,
    document_verdict,
    graded_word,
    json_type,
    one_line,
    text_of,
)

#: Spring components nested deeper than this are graded as one component.
MAX_DEPTH = 16

STATUS_WORDS: Mapping[str, Status] = {
    "up": Status.OK,
    "out_of_service": Status.WARNING,
    "down": Status.CRITICAL,
    "unknown": Status.UNKNOWN,
}
NEEDS_SUCCESS = frozenset({Status.OK})


def spring_verdict(document: Mapping[str, Any], status_code: int) -> Verdict:
    """Grade a Spring Boot actuator health document."""
    raw = document.get("status")
    top, note = graded_word(raw, STATUS_WORDS, missing=Status.UNKNOWN)
    word = note or one_line(text_of(raw), 40).upper()
    return document_verdict(
        "spring",
        word,
        top,
        list(spring_components(document)),
        status_code,
        noun="component",
        needs_success=NEEDS_SUCCESS,
    )


def spring_components(
    node: Mapping[str, Any], prefix: str = "", depth: int = 0
) -> Iterator[Component]:
    """The leaves under ``node``, named by their dotted path (``db.primary``)."""
    for key, child in spring_children(node):
        name = one_line(f"{prefix}.{key}" if prefix else key, NAME_CAP)
        if not isinstance(child, Mapping):
            yield Component(name, Status.UNKNOWN, f"not a health object but a {json_type(child)}")
        elif not spring_children(child):
            yield spring_leaf(name, child)
        elif depth >= MAX_DEPTH:
            status, note = graded_word(child.get("status"), STATUS_WORDS, missing=Status.UNKNOWN)
            yield Component(name, status, note or f"nested deeper than {MAX_DEPTH} levels")
        else:
            yield from spring_components(child, name, depth + 1)


def spring_children(node: Mapping[str, Any]) -> list[tuple[str, object]]:
    """A node's sub-components: its ``components``, or (older documents) a ``details`` object
    whose every value is a health object; ``[]`` for a leaf."""
    components = node.get("components")
    if isinstance(components, Mapping):
        return [(str(key), value) for key, value in components.items()]
    details = node.get("details")
    if isinstance(details, Mapping) and details and all(map(is_spring_health, details.values())):
        return [(str(key), value) for key, value in details.items()]
    return []


def is_spring_health(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("status"), str)


def spring_leaf(name: str, node: Mapping[str, Any]) -> Component:
    """A leaf graded by its ``status``; output is ``details.error``, or for a leaf that is not
    UP its scalar details (``free=1024, threshold=10485760``)."""
    status, note = graded_word(node.get("status"), STATUS_WORDS, missing=Status.UNKNOWN)
    details = node.get("details")
    details = details if isinstance(details, Mapping) else {}
    reason = text_of(details.get("error"))
    if not reason and status is not Status.OK:
        reason = scalar_details(details)
    return Component(name, status, one_line("; ".join(part for part in (note, reason) if part)))


def scalar_details(details: Mapping[str, Any]) -> str:
    """``"free=1024, threshold=10485760"``: the details that are single values."""
    return ", ".join(
        f"{key}={text_of(value)}"
        for key, value in details.items()
        if isinstance(value, str | int | float | bool)
    )
