"""Only the status code counts: 2xx-3xx is OK, anything else CRITICAL."""

from __future__ import annotations

from exporter.status import Status
from probes.health.common import Verdict, is_success


def status_code_verdict(status_code: int) -> Verdict:
    status = Status.OK if is_success(status_code) else Status.CRITICAL
    return Verdict(status, f"HTTP {status_code}", "status-code")
