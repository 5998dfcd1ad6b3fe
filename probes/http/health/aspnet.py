"""ASP.NET Core health checks: the plain ``Healthy``/``Degraded``/``Unhealthy`` text of
``MapHealthChecks`` (200, 200, 503 by default), and the JSON of
AspNetCore.Diagnostics.HealthChecks' ``UIResponseWriter`` (``status``, ``totalDuration``,
``entries`` keyed by check name, each with ``status``, ``description``, ``exception``)."""

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

NAME = "aspnet"
STATUS_WORDS: Mapping[str, Status] = {
    "healthy": Status.OK,
    "degraded": Status.WARNING,
    "unhealthy": Status.CRITICAL,
}


def looks_like(document: Mapping[str, Any]) -> bool:
    return isinstance(document.get("entries"), Mapping) and isinstance(document.get("status"), str)


def looks_like_text(text: str) -> bool:
    return text.strip().lower() in STATUS_WORDS


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    entries = document.get("entries")
    found = [
        component(one_line(str(key), NAME_CAP), entry, options)
        for key, entry in (entries.items() if isinstance(entries, Mapping) else ())
    ]
    return document_verdict(
        NAME, document.get("status"), STATUS_WORDS, found, status_code, options, noun="check",
        word_case=str.title,
    )  # fmt: skip


def text_verdict(text: str, status_code: int, options: Options) -> Verdict:
    return document_verdict(
        NAME, text.strip(), STATUS_WORDS, [], status_code, options, noun="check",
        word_case=str.title,
    )  # fmt: skip


def component(name: str, entry: object, options: Options) -> Component:
    if not isinstance(entry, Mapping):
        return Component(name, Status.UNKNOWN, f"not an entry but a {json_type(entry)}")
    status, note = graded_word(entry.get("status"), STATUS_WORDS, options, missing=Status.UNKNOWN)
    reason = ""
    if status is not Status.OK:
        reason = text_of(entry.get("description")) or text_of(entry.get("exception"))
    return Component(name, status, joined(note, reason))
