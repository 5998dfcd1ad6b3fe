"""GitLab's probes: ``/-/readiness`` (``status`` ok/failed and ``*_check`` arrays of
``{status, message, labels}``; 503 on failure), ``/-/liveness`` (``{"status": "ok"}``), and the
text answers of ``/-/health`` (``GitLab OK``) and the health_check gem's ``/health_check``
(``success``, or ``health_check failed: <reason>`` with 500)."""

from __future__ import annotations

from collections.abc import Mapping
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
    one_line,
    text_of,
    unparsed,
)

NAME = "gitlab"
STATUS_WORDS: Mapping[str, Status] = {"ok": Status.OK, "failed": Status.CRITICAL}
_FAILED_PREFIX = "health_check failed:"


def looks_like(document: Mapping[str, Any]) -> bool:
    """Keys ending in ``_check`` holding check objects, and nothing else but ``status``."""
    checks = [key for key in document if str(key).endswith("_check")]
    return bool(checks) and all(
        key == "status" or (key in checks and is_check_list(document[key])) for key in document
    )


def is_check_list(value: object) -> bool:
    entries = value if isinstance(value, list) else [value]
    return bool(entries) and all(
        isinstance(entry, Mapping) and "status" in entry for entry in entries
    )


def looks_like_text(text: str) -> bool:
    stripped = text.strip()
    return stripped in ("GitLab OK", "success") or stripped.startswith(_FAILED_PREFIX)


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    found = components(document, options)
    raw = document.get("status")
    if raw is None:
        raw = "failed" if worst(c.status for c in found) is not Status.OK else "ok"
    return document_verdict(NAME, raw, STATUS_WORDS, found, status_code, options, noun="check")


def components(document: Mapping[str, Any], options: Options) -> list[Component]:
    found: list[Component] = []
    for key, value in document.items():
        if key == "status" or not str(key).endswith("_check"):
            continue
        entries = value if isinstance(value, list) else [value]
        base = one_line(str(key).removesuffix("_check"), NAME_CAP)
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue
            labels = entry.get("labels")
            shard = text_of(labels.get("shard")) if isinstance(labels, Mapping) else ""
            name = (
                f"{base}:{shard}" if shard else (f"{base}[{index}]" if len(entries) > 1 else base)
            )
            status, note = graded_word(entry.get("status"), STATUS_WORDS, options,
                                       missing=Status.UNKNOWN)  # fmt: skip
            found.append(Component(name, status, joined(note, text_of(entry.get("message")))))
    return found


def text_verdict(text: str, status_code: int, options: Options) -> Verdict:
    stripped = text.strip()
    if stripped.startswith(_FAILED_PREFIX):
        reason = one_line(stripped.removeprefix(_FAILED_PREFIX), 120)
        return Verdict(Status.CRITICAL, f"health_check failed: {reason}", NAME, body_decides=True)
    if stripped in ("GitLab OK", "success"):
        return document_verdict(NAME, "ok", STATUS_WORDS, [], status_code, options, noun="check")
    return unparsed(NAME, Status.UNKNOWN, f"not a GitLab health answer: {one_line(stripped, 60)!r}")
