"""Loki streams of the reports: a fixed, bounded label set and strictly increasing timestamps.

Labels are only ``job, site, environment, tier, kind, status, report_type`` (the probe name,
profile and everything else go in the line, or in structured metadata): a site has a few
dozen streams at most, whatever its probes are called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JOB = "site-status"
LABEL_NAMES = ("job", "site", "environment", "tier", "kind", "status", "report_type")
#: Loki's default ``max_label_value_length`` is 2048; stay well within it.
MAX_LABEL_VALUE_CHARS = 1024

StreamKey = tuple[tuple[str, str], ...]


def report_labels(report: Mapping[str, Any]) -> dict[str, str]:
    """The stream labels of a report; empty values are left out (Loki drops them anyway)."""
    site = report["site"]
    labels = {
        "job": JOB,
        "site": site["name"],
        "environment": site["environment"],
        "tier": site["tier"],
        "kind": report["probe"]["kind"] if report["report_type"] == "transition" else "",
        "status": report["status"],
        "report_type": report["report_type"],
    }
    return {k: v[:MAX_LABEL_VALUE_CHARS] for k, v in labels.items() if v}


def structured_metadata(report: Mapping[str, Any]) -> dict[str, str]:
    """What is worth filtering on without parsing the line, but would be unbounded as a label."""
    metadata = {"schema_version": str(report["schema_version"])}
    if report["site"]["profile"]:
        metadata["profile"] = report["site"]["profile"]
    if report["report_type"] == "transition":
        metadata["probe"] = report["probe"]["name"]
        metadata["previous_status"] = report["previous_status"] or "NONE"
        metadata["cause"] = report["cause"]
    return metadata


def stream_key(labels: Mapping[str, str]) -> StreamKey:
    return tuple(sorted(labels.items()))


def key_text(key: StreamKey) -> str:
    """``{job="site-status",site="x"}``: how a stream is named in logs and the spool state."""
    return "{" + ",".join(f'{k}="{v}"' for k, v in key) + "}"


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
