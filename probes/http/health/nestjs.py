"""NestJS Terminus: ``status`` ok/error/shutting_down, ``info`` (indicators up), ``error``
(indicators down) and ``details`` (all of them), each keyed by indicator name with its own
``status`` up/down and a ``message``; error and shutting_down come with 503."""

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
    scalar_text,
    text_of,
)

NAME = "nestjs"
STATUS_WORDS: Mapping[str, Status] = {
    "ok": Status.OK,
    "error": Status.CRITICAL,
    #: The application is draining for a graceful shutdown: it answers, but not for long.
    "shutting_down": Status.WARNING,
}
INDICATOR_WORDS: Mapping[str, Status] = {"up": Status.OK, "down": Status.CRITICAL}


def looks_like(document: Mapping[str, Any]) -> bool:
    """Terminus' status word with ``info``/``error`` objects, or ``details`` of up/down
    indicators (what tells it from an older health+json ``details``)."""
    raw = document.get("status")
    if not (isinstance(raw, str) and raw.lower() in STATUS_WORDS):
        return False
    if raw.lower() == "shutting_down":
        return True
    if isinstance(document.get("info"), Mapping) or isinstance(document.get("error"), Mapping):
        return True
    details = document.get("details")
    return (
        isinstance(details, Mapping)
        and bool(details)
        and all(
            isinstance(entry, Mapping) and text_of(entry.get("status")).lower() in INDICATOR_WORDS
            for entry in details.values()
        )
    )


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    return document_verdict(
        NAME,
        document.get("status"),
        STATUS_WORDS,
        components(document, options),
        status_code,
        options,
        noun="indicator",
    )


def components(document: Mapping[str, Any], options: Options) -> list[Component]:
    """Every indicator once: from ``details``, else from ``info`` and ``error``."""
    merged: dict[str, object] = {}
    for section in ("info", "error", "details"):
        entries = document.get(section)
        if isinstance(entries, Mapping):
            merged.update((str(key), value) for key, value in entries.items())
    return [component(one_line(name, NAME_CAP), entry, options) for name, entry in merged.items()]


def component(name: str, entry: object, options: Options) -> Component:
    if not isinstance(entry, Mapping):
        return Component(name, Status.UNKNOWN, f"not an indicator but a {json_type(entry)}")
    status, note = graded_word(
        entry.get("status"), INDICATOR_WORDS, options, missing=Status.UNKNOWN
    )
    reason = ""
    if status is not Status.OK:
        reason = text_of(entry.get("message")) or scalar_text(entry, skip=("status",))
    return Component(name, status, joined(note, reason))
