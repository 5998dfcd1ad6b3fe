"""Loki streams of the reports: a fixed, bounded label set and strictly increasing timestamps.

Labels are only ``job, site, environment, tier, report_type``, and ``cluster`` where the config
names one (``site.cluster``: the same site runs in several clusters): two streams per site,
whatever its probes are. ``status`` and the probe's ``kind`` were labels once; they split a
site into up to ~50 small streams (8 kinds x 4 statuses + 4), 7,200 for 200 sites, past
Loki's default of 5,000 active streams per tenant, the pattern Loki's label guidance warns
against (docs/reports.md). They are in the line (``| json``) and, when enabled, structured metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JOB = "site-status"
LABEL_NAMES = ("job", "site", "environment", "tier", "report_type", "cluster")
#: Loki's default ``max_label_value_length`` is 2048, counted in bytes (Go's ``len``).
MAX_LABEL_VALUE_BYTES = 2048


def cut_utf8(text: str, max_bytes: int) -> str:
    """``text`` in at most ``max_bytes`` of UTF-8, cut at a character boundary."""
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def report_labels(report: Mapping[str, Any]) -> dict[str, str]:
    """The stream labels of a report; empty values are left out (Loki drops them anyway)."""
    site = report["site"]
    labels = {
        "job": JOB,
        "site": site["name"],
        "environment": site["environment"],
        "tier": site["tier"],
        "report_type": report["report_type"],
        "cluster": site.get("cluster", ""),
    }
    return {k: cut_utf8(v, MAX_LABEL_VALUE_BYTES) for k, v in labels.items() if v}


def structured_metadata(report: Mapping[str, Any]) -> dict[str, str]:
    """What is worth filtering on without parsing the line, but would split streams as a label."""
    metadata = {"schema_version": str(report["schema_version"]), "status": report["status"]}
    if report["site"]["profile"]:
        metadata["profile"] = report["site"]["profile"]
    if report["report_type"] == "transition":
        metadata["kind"] = report["probe"]["kind"]
        metadata["probe"] = report["probe"]["name"]
        metadata["previous_status"] = report["previous_status"] or "NONE"
        metadata["cause"] = report["cause"]
    return metadata


class StreamClock:
    """Nanosecond timestamps, strictly increasing per stream (ties and late reports: +1 ns)."""

    def __init__(self, last: Mapping[str, int] | None = None) -> None:
        self._last: dict[str, int] = dict(last or {})

    def stamp(self, stream: str, observed_ns: int) -> int:
        previous = self._last.get(stream)
        stamp = observed_ns if previous is None or observed_ns > previous else previous + 1
        self._last[stream] = stamp
        return stamp

    def advance(self, last: Mapping[str, int]) -> None:
        """Never go below these (the spool's, after a restart)."""
        for stream, stamp in last.items():
            if stamp > self._last.get(stream, -1):
                self._last[stream] = stamp

    def state(self) -> dict[str, int]:
        return dict(self._last)
