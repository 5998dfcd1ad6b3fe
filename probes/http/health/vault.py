"""HashiCorp Vault ``/v1/sys/health`` (OpenBao alike): the state is in ``initialized``,
``sealed``, ``standby`` and the code; a generic reader would call a healthy standby's 429
a failure. Codes by default: 200 active, 429 standby, 472 DR secondary, 473 performance
standby, 501 not initialized, 503 sealed (each can be changed by a query parameter, so the
body decides; only a 5xx beside a healthy body contradicts it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.status import Status
from probes.http.health.common import Options, Verdict, capped_verdict, one_line, text_of

NAME = "vault"


def looks_like(document: Mapping[str, Any]) -> bool:
    """The booleans only Vault's health answer has together."""
    return all(isinstance(document.get(key), bool) for key in ("initialized", "sealed")) and (
        "standby" in document or "server_time_utc" in document
    )


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    """Sealed or not initialized is CRITICAL; active and every kind of standby are OK."""
    version = one_line(text_of(document.get("version")), 40)
    suffix = f" (Vault {version.removeprefix('Vault ')})" if version else ""
    if document.get("initialized") is False:
        return capped_verdict(Status.CRITICAL, f"not initialized{suffix}", NAME, [])
    if document.get("sealed") is True:
        return capped_verdict(Status.CRITICAL, f"sealed{suffix}", NAME, [])
    role = role_of(document)
    if status_code >= 500:
        return capped_verdict(Status.CRITICAL, f"{role} but HTTP {status_code}", NAME, [])
    return capped_verdict(Status.OK, f"unsealed, {role}{suffix}", NAME, [])


def role_of(document: Mapping[str, Any]) -> str:
    if document.get("replication_dr_mode") == "secondary":
        return "DR secondary"
    if document.get("performance_standby") is True:
        return "performance standby"
    if document.get("standby") is True:
        return "standby"
    return "active"
