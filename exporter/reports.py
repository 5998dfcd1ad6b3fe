"""Status reports: a JSON line for every status change and a periodic snapshot of the site.

This is the local sink (JSONL file, the embedded default). The file is written through the
blocking runner, so a report file on a hung mount cannot stall the event loop.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from exporter import __version__
from exporter.blocking import BlockingRunner
from exporter.config import Reports, Site
from exporter.health import ExporterHealth
from exporter.store import ProbeState, ProbeView, site_status

log = logging.getLogger(__name__)

#: Report details are bounded: a probe cannot make one line arbitrarily large.
MAX_DETAILS_CHARS = 16_384
#: A local append takes microseconds; this bounds a report file on a hung mount (and shutdown).
WRITE_TIMEOUT = 1.0


def _timestamp(unix: float | None = None) -> str:
    moment = datetime.now(UTC) if unix is None else datetime.fromtimestamp(unix, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _site(site: Site) -> dict[str, str]:
    return {
        "name": site.name,
        "environment": site.environment,
        "tier": site.tier,
        "profile": site.profile,
    }


def bounded_details(details: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(details, default=str)
    if len(text) <= MAX_DETAILS_CHARS:
        return json.loads(text)  # type: ignore[no-any-return]
    return {"truncated": True, "excerpt": text[:MAX_DETAILS_CHARS]}


def transition_report(site: Site, before: ProbeState, after: ProbeState) -> dict[str, Any] | None:
    """A report when the probe's (damped) status changed, else None."""
    if after.status is None or after.status == before.status or after.held is None:
        return None
    return {
        "type": "transition",
        "time": _timestamp(after.finished_at),
        "site": _site(site),
        "probe": after.spec.name,
        "kind": after.spec.kind,
        "status": after.status.name,
        "previous_status": before.status.name if before.status is not None else None,
        "summary": after.held.summary,
        "details": bounded_details(dict(after.held.details)),
        "duration_seconds": round(after.duration, 6),
        "exporter_version": __version__,
    }


def snapshot_report(site: Site, views: Sequence[ProbeView]) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "time": _timestamp(),
        "site": _site(site),
        "status": site_status(views).name,
        "maintenance": site.in_maintenance(),
        "probes": [
            {"probe": v.name, "kind": v.kind, "status": v.status.name, "summary": v.summary}
            for v in views
        ],
        "exporter_version": __version__,
    }


class JsonlReportSink:
    """Appends reports to a JSONL file, rotating it to ``.1`` past ``max_file_bytes``."""

    def __init__(self, config: Reports, blocking: BlockingRunner, health: ExporterHealth) -> None:
        self.path = config.file_path()
        self.max_bytes = config.max_file_bytes
        self.blocking = blocking
        self.health = health

    async def write(self, reports: Sequence[dict[str, Any]]) -> None:
        if not reports:
            return
        text = "".join(json.dumps(report, default=str) + "\n" for report in reports)
        try:
            # Shielded: a write abandoned at shutdown could land after the final snapshot.
            with anyio.CancelScope(shield=True):
                await self.blocking.call(
                    self._append, text, resource=f"report file {self.path}", timeout=WRITE_TIMEOUT
                )
        except Exception as error:
            self.health.report_errors += len(reports)
            log.error("could not write %d report(s) to %s: %s", len(reports), self.path, error)
            return
        for report in reports:
            self.health.reports_written[report["type"]] += 1

    def _append(self, text: str) -> None:
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.stat().st_size + len(text) > self.max_bytes:
                os.replace(path, path.with_name(path.name + ".1"))
        except FileNotFoundError:
            pass
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
