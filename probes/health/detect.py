"""``auto``: which format a body is, from its content type and shape; and bodies cut at the cap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.status import Status
from probes.health import health_json, k8s, spring
from probes.health.common import Verdict, is_json_media, json_object, media_type
from probes.health.k8s import is_plain_ok, k8s_lines, k8s_verdict
from probes.health.status_code import status_code_verdict


def auto_verdict(status_code: int, content_type: str, text: str) -> Verdict:
    """Grade in the format the content type and body look like (see ``json_format``)."""
    media = media_type(content_type)
    if media == "application/health+json":
        return grade_json("health+json", status_code, text)
    if is_json_media(media) or text.lstrip().startswith("{"):
        document = json_object(text)
        if isinstance(document, str):
            if is_json_media(media):
                return Verdict(Status.UNKNOWN, document, "auto")
        elif (fmt := json_format(document)) == "spring":
            return spring.spring_verdict(document, status_code)
        elif fmt == "health+json":
            return health_json.health_json_verdict(document, status_code)
    if is_plain_ok(text) or k8s_lines(text).recognised:
        return k8s_verdict(status_code, text)
    return status_code_verdict(status_code)


def grade_json(fmt: str, status_code: int, text: str) -> Verdict:
    """Grade ``text`` as the JSON format ``fmt`` (``spring`` or ``health+json``)."""
    document = json_object(text)
    if isinstance(document, str):
        return Verdict(Status.UNKNOWN, document, fmt)
    if fmt == "spring":
        return spring.spring_verdict(document, status_code)
    return health_json.health_json_verdict(document, status_code)


def json_format(document: Mapping[str, Any]) -> str | None:
    """``"spring"``, ``"health+json"`` or ``None`` (neither) for a JSON object.

    ``checks`` means health+json and ``components`` Spring. Otherwise the status decides;
    ``up``/``down`` are both, so an older ``details`` of check lists means health+json, and
    anything else Spring.
    """
    if isinstance(document.get("checks"), Mapping):
        return "health+json"
    if isinstance(document.get("components"), Mapping):
        return "spring"
    raw = document.get("status")
    word = raw.lower() if isinstance(raw, str) else ""
    if word in ("up", "down"):
        details = document.get("details")
        if isinstance(details, Mapping) and any(isinstance(v, list) for v in details.values()):
            return "health+json"
        return "spring"
    if word in spring.STATUS_WORDS:
        return "spring"
    if word in health_json.STATUS_WORDS:
        return "health+json"
    return None


def truncated_verdict(fmt: str, status_code: int, content_type: str, text: str) -> Verdict:
    """A body cut at the size cap: UNKNOWN, unless the status code alone decides."""
    if fmt == "auto":
        fmt = format_of_prefix(content_type, text)
        if fmt == "status-code":
            return status_code_verdict(status_code)
    return Verdict(Status.UNKNOWN, "body larger than the cap", fmt)


def format_of_prefix(content_type: str, text: str) -> str:
    """The format ``auto`` would use, judged from the start of a body; ``"auto"`` for JSON,
    where only the whole document tells Spring from health+json."""
    media = media_type(content_type)
    if media == "application/health+json":
        return "health+json"
    if is_json_media(media) or text.lstrip().startswith("{"):
        return "auto"
    first = text.lstrip().partition("\n")[0].strip()
    if k8s.PASSED.fullmatch(first) or k8s.FAILED.fullmatch(first):
        return "k8s"
    return "status-code"
