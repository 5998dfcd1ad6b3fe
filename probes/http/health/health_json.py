"""IETF health+json (draft-inadarei-api-health-check): ``status`` pass/warn/fail, ``checks``
keyed ``"component:measurement"``, each a list of check objects; older documents say
``details`` and may hold single objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.status import Status
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
    text_of,
)

NAME = "health+json"
MEDIA_TYPE = "application/health+json"
STATUS_WORDS: Mapping[str, Status] = {
    "pass": Status.OK,
    "ok": Status.OK,
    "up": Status.OK,
    "warn": Status.WARNING,
    "fail": Status.CRITICAL,
    "error": Status.CRITICAL,
    "down": Status.CRITICAL,
}
#: pass and warn promise a 2xx-3xx answer: sent with an error code, the verdict is CRITICAL.
NEEDS_SUCCESS = frozenset({Status.OK, Status.WARNING})


def looks_like(document: Mapping[str, Any]) -> bool:
    """``checks`` keyed by name, or a draft status word with an older ``details``."""
    if isinstance(document.get("checks"), Mapping):
        return True
    raw = document.get("status")
    return isinstance(raw, str) and raw.lower() in ("pass", "warn", "fail")


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    """Grade an IETF health+json document."""
    return document_verdict(
        NAME,
        document.get("status"),
        STATUS_WORDS,
        components(document, options),
        status_code,
        options,
        noun="check",
        needs_success=NEEDS_SUCCESS,
        output=text_of(document.get("output")),
    )


def components(document: Mapping[str, Any], options: Options) -> list[Component]:
    """One component per check object under ``checks`` (or the older ``details``)."""
    checks = document.get("checks")
    if not isinstance(checks, Mapping):
        checks = document.get("details")
    if not isinstance(checks, Mapping):
        return []
    found: list[Component] = []
    for key, entry in checks.items():
        objects = entry if isinstance(entry, list) else [entry]
        name = one_line(str(key), NAME_CAP)
        for index, check in enumerate(objects):
            indexed = f"{name}[{index}]" if len(objects) > 1 else name
            found.append(component(indexed, check, options))
    return found


def component(name: str, check: object, options: Options) -> Component:
    """A check object graded by its own ``status`` (a check without one grades OK)."""
    if not isinstance(check, Mapping):
        return Component(name, Status.UNKNOWN, f"not a check object but a {json_type(check)}")
    status, note = graded_word(check.get("status"), STATUS_WORDS, options, missing=Status.OK)
    return Component(name, status, joined(note, text_of(check.get("output")), observed(check)))


def observed(check: Mapping[str, Any]) -> str:
    """``"observed 250 ms"`` from ``observedValue``/``observedUnit``, ``""`` without a value."""
    value = check.get("observedValue")
    if value is None:
        return ""
    unit = one_line(text_of(check.get("observedUnit")), 20)
    return f"observed {one_line(text_of(value), 60)} {unit}".rstrip()
