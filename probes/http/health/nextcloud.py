"""Nextcloud and ownCloud ``status.php``: 200 whatever the state, which is in ``installed``,
``maintenance`` and ``needsDbUpgrade``. Not installed, in maintenance mode (every user gets
503) or waiting for a database upgrade (the upgrade page) is CRITICAL: planned maintenance is
declared with the exporter's maintenance windows, which mute it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.status import Status
from probes.http.health.common import (
    Options,
    Verdict,
    capped_verdict,
    is_success,
    one_line,
    text_of,
)

NAME = "nextcloud"


def looks_like(document: Mapping[str, Any]) -> bool:
    """``installed`` and ``maintenance`` booleans beside a ``versionstring`` or product name."""
    return (
        isinstance(document.get("installed"), bool)
        and isinstance(document.get("maintenance"), bool)
        and ("versionstring" in document or "productname" in document)
    )


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    product = one_line(text_of(document.get("productname")) or "Nextcloud", 40)
    version = one_line(text_of(document.get("versionstring")), 40)
    name = f"{product} {version}".strip()
    problems = []
    if document.get("installed") is False:
        problems.append("not installed")
    if document.get("maintenance") is True:
        problems.append("in maintenance mode")
    if document.get("needsDbUpgrade") is True:
        problems.append("database upgrade needed (needsDbUpgrade)")
    if problems:
        return capped_verdict(Status.CRITICAL, f"{name}: {', '.join(problems)}", NAME, [])
    if not is_success(status_code):
        return capped_verdict(Status.CRITICAL, f"{name} ok but HTTP {status_code}", NAME, [])
    return capped_verdict(Status.OK, f"{name}: installed, not in maintenance", NAME, [])
