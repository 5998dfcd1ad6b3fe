"""The reports' part of ``/healthz``: is the Loki push stuck, is the spool writable, is
structured metadata refused. Each check is ``warn`` at once (the exporter still works and the
reports wait), never ``fail``: a restart would not fix Loki, a full disk or a wrong token."""

from __future__ import annotations

import time
from typing import Any

from exporter.reports.stats import ReportStats

Check = list[dict[str, Any]]


def _check(status: str, value: Any, unit: str | None, output: str) -> Check:
    check: dict[str, Any] = {"status": status, "observedValue": value, "output": output}
    if unit:
        check["observedUnit"] = unit
    return [check]


def report_checks(stats: ReportStats | None, now: float | None = None) -> dict[str, Check]:
    """``reports:loki``, ``reports:spool`` and ``reports:structured-metadata``, once a Loki
    sink has run; nothing for a file-only exporter."""
    loki = stats.loki if stats is not None else None
    if loki is None:
        return {}
    now = time.time() if now is None else now
    if loki.failing_since is None:
        push = _check("pass", 0, "s", f"pushes answered; {loki.queued} report(s) waiting")
    else:
        failing = round(max(now - loki.failing_since, 0.0), 3)
        output = (
            f"pushes failing for {failing:.0f}s ({loki.failing_cause}): {loki.failing_reason}; "
            f"{loki.queued} report(s) waiting in the spool"
        )
        push = _check("warn", failing, "s", output)
    if loki.spool_failing:
        spool = _check("warn", 1, None, loki.spool_failing)
    else:
        spool = _check("pass", 0, None, f"spool writable, {loki.spool_bytes} bytes")
    if loki.metadata_refused:
        output = f"Loki refuses structured metadata, sent without it: {loki.metadata_refused}"
        metadata = _check("warn", 1, None, output)
    else:
        metadata = _check("pass", 0, None, "structured metadata sent as configured")
    return {
        "reports:loki": push,
        "reports:spool": spool,
        "reports:structured-metadata": metadata,
    }
