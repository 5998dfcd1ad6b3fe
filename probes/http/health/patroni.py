"""Patroni's REST API document (``GET /patroni``, and the body of ``/``, ``/primary``,
``/replica``, ``/health``...): the node's ``state`` and ``role``, and cluster facts a generic
reader would miss: ``cluster_unlocked`` (no member holds the leader lock: no primary, unless
failsafe mode keeps it), ``pause`` (automatic failover is off). The code belongs to the
endpoint asked (``/primary`` answers 503 on a healthy replica), so it still counts: an
unexpected one is CRITICAL and the summary quotes the node's role and state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.status import Status
from probes.http.health.common import Options, Verdict, one_line, text_of

NAME = "patroni"
#: Postgres states Patroni reports that are no failure of the node.
RUNNING_STATES = frozenset({"running", "streaming", "in archive recovery"})
STARTING_STATES = frozenset({"starting", "restarting", "running custom bootstrap script"})


def looks_like(document: Mapping[str, Any]) -> bool:
    """A ``patroni`` object (version, scope) beside ``state`` or ``role``."""
    own = document.get("patroni")
    return isinstance(own, Mapping) and ("state" in document or "role" in document)


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    state = one_line(text_of(document.get("state")), 40)
    role = one_line(text_of(document.get("role")), 40)
    node = ", ".join(part for part in (f"role {role}" if role else "", state) if part)
    findings: list[tuple[Status, str]] = []
    if state and state not in RUNNING_STATES:
        starting = state in STARTING_STATES
        findings.append((Status.WARNING if starting else Status.CRITICAL, f"postgres {state}"))
    if document.get("cluster_unlocked") is True:
        failsafe = document.get("failsafe_mode_is_active") is True
        text = "cluster_unlocked: no leader lock" + (", failsafe mode active" if failsafe else "")
        findings.append((Status.WARNING if failsafe else Status.CRITICAL, text))
    if document.get("pause") is True:
        findings.append((Status.WARNING, "pause: automatic failover off"))
    if document.get("pending_restart") is True:
        findings.append((Status.WARNING, "pending_restart"))
    findings.sort(key=lambda finding: -finding[0].severity)
    status = findings[0][0] if findings else Status.OK
    summary = "; ".join([text for _, text in findings] + [node])
    # Not body_decides: an endpoint's 503 (a replica asked /primary) is the finding.
    return Verdict(status, one_line(summary, 300), NAME, said=node)
