"""The local report sink: one JSON line per report in a file (the embedded default).

Written through the blocking runner, so a report file on a hung mount cannot stall the event
loop; rotated to ``.1`` past ``max_file_bytes``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import anyio

from exporter.blocking import BlockingRunner
from exporter.config import Reports
from exporter.reports.schema import Report, encode
from exporter.reports.shared_access import make_shared_directory, open_shared
from exporter.reports.stats import ReportStats

log = logging.getLogger(__name__)

#: A local append takes microseconds; this bounds a report file on a hung mount (and shutdown).
WRITE_TIMEOUT = 1.0


class JsonlReportSink:
    """Appends reports to a JSONL file, rotating it to ``.1`` past ``max_file_bytes``."""

    def __init__(
        self, config: Reports, blocking: BlockingRunner, stats: ReportStats, site: str = ""
    ) -> None:
        self.path = config.file_path(site)
        self.max_bytes = config.max_file_bytes
        self.blocking = blocking
        self.stats = stats

    async def open(self) -> None:
        return None

    async def submit(self, reports: Sequence[Report]) -> None:
        if not reports:
            return
        text = "".join(encode(report) + "\n" for report in reports)
        try:
            # Shielded: a write abandoned at shutdown could land after the final snapshot.
            with anyio.CancelScope(shield=True):
                await self.blocking.call(
                    self._append, text, resource=f"report file {self.path}", timeout=WRITE_TIMEOUT
                )
        except Exception as error:
            self.stats.errors += len(reports)
            log.error("could not write %d report(s) to %s: %s", len(reports), self.path, error)
            return
        for report in reports:
            self.stats.written[report["report_type"]] += 1

    async def run(self) -> None:
        await anyio.sleep_forever()

    async def flush(self, timeout: float) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _append(self, text: str) -> None:
        path = Path(self.path)
        make_shared_directory(path.parent)
        data = text.encode()
        try:
            if path.stat().st_size + len(data) > self.max_bytes:
                os.replace(path, path.with_name(path.name + ".1"))
        except FileNotFoundError:
            pass
        # Group-writable: the next exporter (another uid, the same group) appends to it.
        with os.fdopen(open_shared(path, os.O_WRONLY | os.O_APPEND, 0o666), "ab") as handle:
            handle.write(data)
