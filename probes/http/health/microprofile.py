"""MicroProfile Health (``/health``, ``/health/live``, ``/health/ready``, ``/health/started``):
``status`` UP/DOWN and a ``checks`` array of ``{name, status, data}``; DOWN comes with 503.
MicroProfile Health 1.0 said ``outcome`` and ``state`` instead of ``status``."""

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

NAME = "microprofile"
STATUS_WORDS: Mapping[str, Status] = {"up": Status.OK, "down": Status.CRITICAL}
#: ``data`` keys that say why a check is down, in the order they are looked for.
_REASON_KEYS = ("error", "message", "reason", "rootCause", "exception", "cause")


def looks_like(document: Mapping[str, Any]) -> bool:
    raw = document.get("status", document.get("outcome"))
    return isinstance(document.get("checks"), list) and isinstance(raw, str)


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    checks = document.get("checks")
    found = [
        component(index, check, options)
        for index, check in enumerate(checks if isinstance(checks, list) else [])
    ]
    return document_verdict(
        NAME,
        document.get("status", document.get("outcome")),
        STATUS_WORDS,
        found,
        status_code,
        options,
        noun="check",
        word_case=str.upper,
    )


def component(index: int, check: object, options: Options) -> Component:
    """A check graded by its ``status``; a DOWN check's reason is taken from its ``data``."""
    if not isinstance(check, Mapping):
        return Component(f"[{index}]", Status.UNKNOWN, f"not a check but a {json_type(check)}")
    name = one_line(text_of(check.get("name")), NAME_CAP) or f"[{index}]"
    raw = check.get("status", check.get("state"))
    status, note = graded_word(raw, STATUS_WORDS, options, missing=Status.UNKNOWN)
    data = check.get("data")
    reason = ""
    if status is not Status.OK and isinstance(data, Mapping):
        reason = next((text_of(data[k]) for k in _REASON_KEYS if data.get(k)), "") or ", ".join(
            f"{key}={text_of(value)}" for key, value in data.items()
        )
    return Component(name, status, joined(note, reason))
