"""Only the status code counts: what the user expects (2xx-3xx by default) is OK."""

from __future__ import annotations

from exporter.status import Status
from probes.http.health.common import Verdict, unparsed

NAME = "status-code"


def verdict(status_code: int) -> Verdict:
    """OK here; ``with_code`` makes it CRITICAL when the code is not expected."""
    return unparsed(NAME, Status.OK, f"HTTP {status_code}")
