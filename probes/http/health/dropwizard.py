"""Dropwizard (Codahale) Metrics health checks, the admin ``/healthcheck`` JSON: an object
keyed by check name, each ``{healthy, message, error, duration, timestamp}``; 200 when every
check is healthy, 500 otherwise."""

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
    joined,
    one_line,
    text_of,
)

NAME = "dropwizard"
#: The checks carry no status word; the document's is made from them for ``status_map``.
STATUS_WORDS: Mapping[str, Status] = {"healthy": Status.OK, "unhealthy": Status.CRITICAL}


def looks_like(document: Mapping[str, Any]) -> bool:
    return bool(document) and all(
        isinstance(check, Mapping) and isinstance(check.get("healthy"), bool)
        for check in document.values()
    )


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    found = [component(one_line(str(key), NAME_CAP), check) for key, check in document.items()]
    healthy = all(c.status is Status.OK for c in found)
    return document_verdict(
        NAME,
        "healthy" if healthy else "unhealthy",
        STATUS_WORDS,
        found,
        status_code,
        options,
        noun="check",
    )


def component(name: str, check: object) -> Component:
    if not isinstance(check, Mapping) or not isinstance(check.get("healthy"), bool):
        return Component(name, Status.UNKNOWN, "no healthy flag")
    if check["healthy"]:
        return Component(name, Status.OK, one_line(text_of(check.get("message"))))
    error = check.get("error")
    error_text = text_of(error.get("message")) if isinstance(error, Mapping) else text_of(error)
    return Component(name, Status.CRITICAL, joined(text_of(check.get("message")) or error_text))
