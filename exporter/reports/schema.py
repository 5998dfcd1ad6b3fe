"""Status reports, schema version 1: what a report holds and how it becomes one line.

The schema is published as ``exporter/reports/schemas/report-v1.schema.json`` (package data) and
documented in docs/reports.md. Two report types:

- ``transition``: a probe's *reported* status changed. The store's views decide it, so a result
  going stale and a dependency blocking a probe are transitions too (``cause``).
- ``snapshot``: every probe's status at start-up, every ``snapshot_interval`` and at shutdown.

A line never exceeds the sink's limit (Loki: 256 KiB): details are cut first, then snapshot
summaries, and the line says so (``truncated: true`` with ``truncated_reason``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from exporter import __version__
from exporter.config import Site
from exporter.schedule.announce import opening_document
from exporter.status import Status
from exporter.store import ProbeView, site_status
from exporter.visible_text import json_visible

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "schemas/report-v1.schema.json"
#: Details are bounded whatever the sink: a probe cannot make one report arbitrarily large.
MAX_DETAILS_CHARS = 16_384
#: The schema's bound on a summary (one line).
MAX_SUMMARY_CHARS = 1024
#: Loki's default ``max_line_size`` (256KB, which Loki parses as 262,144 bytes).
LOKI_MAX_LINE_BYTES = 256 * 1024

Report = dict[str, Any]
Cause = Literal["result", "stale", "blocked"]
Trigger = Literal["startup", "interval", "shutdown"]


def timestamp(unix: float) -> str:
    """RFC 3339 in UTC with milliseconds: ``2026-11-22T10:00:00.123Z``."""
    moment = datetime.fromtimestamp(unix, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def site_identity(site: Site) -> dict[str, str]:
    identity = {
        "name": site.name,
        "environment": site.environment,
        "tier": site.tier,
        "profile": site.profile,
    }
    # Only where set: a reader of schema version 1 before clusters knows no such field.
    if site.cluster:
        identity["cluster"] = site.cluster
    return identity


def one_line(text: str) -> str:
    flat = " ".join(text.split()) if "\n" in text or "\r" in text else text
    return flat if len(flat) <= MAX_SUMMARY_CHARS else flat[: MAX_SUMMARY_CHARS - 1] + "…"


def bounded_details(details: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """JSON-safe details, cut to an excerpt past ``MAX_DETAILS_CHARS`` (with the reason)."""
    text = json.dumps(details, default=str, ensure_ascii=False)
    if len(text) <= MAX_DETAILS_CHARS:
        return json.loads(text), None
    reason = f"details were {len(text)} characters, cut to {MAX_DETAILS_CHARS}"
    return {"excerpt": text[:MAX_DETAILS_CHARS]}, reason


def view_cause(view: ProbeView) -> Cause:
    if view.blocked_by:
        return "blocked"
    return "stale" if view.stale else "result"


def transition_report(
    site: Site, view: ProbeView, previous: Status | None, observed_at: float
) -> Report:
    """The report of ``view`` whose reported status was ``previous`` until now."""
    details, cut = bounded_details(view.details())
    report: Report = {
        "schema_version": SCHEMA_VERSION,
        "report_type": "transition",
        "observed_at": timestamp(observed_at),
        "site": site_identity(site),
        "probe": {"name": view.name, "kind": view.kind},
        "status": view.status.name,
        "previous_status": previous.name if previous is not None else None,
        "summary": one_line(view.summary),
        "cause": view_cause(view),
        "reason": view.reason.value if view.reason else None,
        "part": view.part or None,
        "blocked_by": view.blocked_by,
        "details": details,
        "duration_seconds": round(view.state.duration, 6),
        "exporter_version": __version__,
        "truncated": cut is not None,
    }
    if cut is not None:
        report["truncated_reason"] = cut
    return report


def snapshot_summary(views: Sequence[ProbeView]) -> str:
    failing = [v for v in views if v.status is not Status.OK]
    if not failing:
        return f"all {len(views)} probe(s) OK"
    shown = ", ".join(f"{v.name} {v.status.name}" for v in failing[:5])
    more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
    return f"{len(failing)} of {len(views)} probe(s) not OK: {shown}{more}"


def snapshot_report(
    site: Site, views: Sequence[ProbeView], trigger: Trigger, observed_at: float
) -> Report:
    announced = site.announced(datetime.fromtimestamp(observed_at, UTC))
    return {
        "schema_version": SCHEMA_VERSION,
        "report_type": "snapshot",
        "observed_at": timestamp(observed_at),
        "site": site_identity(site),
        "status": site_status(views).name,
        "summary": one_line(snapshot_summary(views)),
        "trigger": trigger,
        "maintenance": announced.current is not None,
        "maintenance_window": opening_document(announced.current, announced.at),
        "next_maintenance": opening_document(announced.next, announced.at),
        "probes": [
            {
                "name": view.name,
                "kind": view.kind,
                "status": view.status.name,
                "summary": one_line(view.summary),
                "reason": view.reason.value if view.reason else None,
                "part": view.part or None,
                "critical": view.state.spec.critical,
                "stale": view.stale,
                "blocked_by": view.blocked_by,
                "last_run": timestamp(view.state.finished_at) if view.state.raw else None,
                "duration_seconds": round(view.state.duration, 6) if view.state.raw else None,
            }
            for view in views
        ],
        "exporter_version": __version__,
        "truncated": False,
    }


def encode(report: Report, max_bytes: int = LOKI_MAX_LINE_BYTES) -> str:
    """The report as one JSON line of at most ``max_bytes`` UTF-8 bytes."""
    line = _dumps(report)
    if _size(line) <= max_bytes:
        return line
    original = _size(line)
    trimmed = dict(report)
    trimmed["truncated"] = True
    if trimmed["report_type"] == "transition":
        trimmed["details"] = {}
        trimmed["truncated_reason"] = (
            f"line was {original} bytes (limit {max_bytes}): details removed"
        )
    else:
        trimmed["probes"] = [
            {k: v for k, v in probe.items() if k in ("name", "kind", "status", "reason", "part")}
            for probe in report["probes"]
        ]
        trimmed["truncated_reason"] = (
            f"line was {original} bytes (limit {max_bytes}): probe summaries removed"
        )
    line = _dumps(trimmed)
    if _size(line) <= max_bytes:
        return line
    return _dumps(_last_resort(trimmed, original, max_bytes))


def _last_resort(report: Report, original: int, max_bytes: int) -> Report:
    """Still too large (tens of thousands of probes): keep the worst probes that fit."""
    if report["report_type"] == "transition":
        report["summary"] = report["summary"][:200]
        report["truncated_reason"] = f"line was {original} bytes (limit {max_bytes}): cut"
        return report
    probes = sorted(report["probes"], key=lambda p: -Status[p["status"]].severity)
    report["probes"] = []
    budget = max_bytes - _size(_dumps(report)) - 200
    kept = []
    for probe in probes:
        cost = _size(_dumps(probe)) + 1
        if cost > budget:
            break
        kept.append(probe)
        budget -= cost
    report["probes"] = kept
    report["truncated_reason"] = (
        f"line was {original} bytes (limit {max_bytes}): only the {len(kept)} worst of "
        f"{len(probes)} probes kept, without summaries"
    )
    return report


def _dumps(report: Report) -> str:
    return json_visible(json.dumps(report, separators=(",", ":"), ensure_ascii=False, default=str))


def _size(line: str) -> int:
    return len(line.encode())
