"""IETF health+json (draft-inadarei-api-health-check): ``status`` pass/warn/fail, ``checks``
keyed ``"component:measurement"``; older documents say ``details``."""

from __future__ import annotations

from collections.abc import Mapping
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

STATUS_WORDS: Mapping[str, Status] = {
    "pass": Status.OK,
    "ok": Status.OK,
    "up": Status.OK,
    "warn": Status.WARNING,
    "fail": Status.CRITICAL,
    "error": Status.CRITICAL,
    "down": Status.CRITICAL,
}
#: Document statuses that promise a 2xx-3xx answer; any other code makes the verdict CRITICAL.
NEEDS_SUCCESS = frozenset({Status.OK, Status.WARNING})


def health_json_verdict(document: Mapping[str, Any], status_code: int) -> Verdict:
    """Grade an IETF health+json document."""
    raw = document.get("status")
    top, note = graded_word(raw, STATUS_WORDS, missing=Status.UNKNOWN)
    word = note or one_line(text_of(raw), 40).lower()
    output = text_of(document.get("output")) if top is not Status.OK else ""
    return document_verdict(
        "health+json",
        word,
        top,
        health_json_components(document),
        status_code,
        noun="check",
        needs_success=NEEDS_SUCCESS,
        output=output,
    )


def health_json_components(document: Mapping[str, Any]) -> list[Component]:
    """One component per check object under ``checks`` (or the older ``details``)."""
    checks = document.get("checks")
    if not isinstance(checks, Mapping):
        checks = document.get("details")
    if not isinstance(checks, Mapping):
        return []
    components: list[Component] = []
    for key, entry in checks.items():
        objects = entry if isinstance(entry, list) else [entry]
        name = one_line(str(key), NAME_CAP)
        for index, check in enumerate(objects):
            indexed = f"{name}[{index}]" if len(objects) > 1 else name
            components.append(health_json_component(indexed, check))
    return components


def health_json_component(name: str, check: object) -> Component:
    """A check object graded by its own ``status`` (a check without one grades OK)."""
    if not isinstance(check, Mapping):
        return Component(name, Status.UNKNOWN, f"not a check object but a {json_type(check)}")
    status, note = graded_word(check.get("status"), STATUS_WORDS, missing=Status.OK)
    parts = [note, text_of(check.get("output")), observed_text(check)]
    return Component(name, status, one_line("; ".join(part for part in parts if part.strip())))


def observed_text(check: Mapping[str, Any]) -> str:
    """``"observed 250 ms"`` from ``observedValue``/``observedUnit``, ``""`` without a value."""
    value = check.get("observedValue")
    if value is None:
        return ""
    unit = one_line(text_of(check.get("observedUnit")), 20)
    return f"observed {one_line(text_of(value), 60)} {unit}".rstrip()
