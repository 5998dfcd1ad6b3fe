"""The audit trail of the deploy rules: a freeze, a lift and an ``--override`` each leave a
record, as a report line in Loki (the reports' own streams, ``report_type="audit"``) and in a
JSONL file, and (exporter/gate/freezing.py) as a Kubernetes Event.

The record is a report of schema v1 (exporter/reports/schemas/report-v1.schema.json, type
``audit``), so the site dashboard's report panels and ``| json`` queries read it as they read
the others.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from exporter import __version__
from exporter.gate.model import SiteState
from exporter.reports.loki.streams import report_labels
from exporter.reports.schema import timestamp

Action = Literal["freeze", "unfreeze", "override"]
#: Reasons and the overridden verdict are operator text and gate output: bounded in the record.
MAX_TEXT = 1000


@dataclass(frozen=True)
class AuditTarget:
    loki_url: str | None = None
    file: Path | None = None
    tenant: str | None = None

    def __bool__(self) -> bool:
        return bool(self.loki_url or self.file)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def record(
    site: SiteState, action: Action, reason: str, by: str, overridden: str = ""
) -> dict[str, Any]:
    """One audit report about ``site``."""
    status = site.status.name if site.status is not None else "UNKNOWN"
    words = {"freeze": "frozen", "unfreeze": "unfrozen", "override": "gate overridden"}[action]
    summary = f"{words} by {by or 'unknown'}: {reason}"
    if overridden:
        summary += f" (overrode: {overridden})"
    return {
        "schema_version": 1,
        "report_type": "audit",
        "observed_at": timestamp(time.time()),
        "site": {
            "name": site.site,
            "environment": site.labels.get("environment", ""),
            "tier": site.labels.get("tier", "") or "besteffort",
            "profile": site.labels.get("profile", ""),
        },
        "status": status,
        "summary": _cut(summary)[:1024],
        "exporter_version": __version__,
        "truncated": False,
        "action": action,
        "reason": _cut(reason),
        "by": _cut(by),
        "overridden": _cut(overridden) or None,
    }


def push_loki(
    client: httpx.Client, url: str, records: Sequence[dict[str, Any]], tenant: str | None
) -> None:
    """One push of ``records`` (Loki's JSON push API); ``OSError`` says why it failed."""
    streams: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    now = time.time_ns()
    for offset, report in enumerate(records):
        labels = report_labels(report)
        key = tuple(sorted(labels.items()))
        stream = streams.setdefault(key, {"stream": labels, "values": []})
        stream["values"].append([str(now + offset), json.dumps(report, separators=(",", ":"))])
    headers = {"X-Scope-OrgID": tenant} if tenant else {}
    endpoint = url.rstrip("/") + "/loki/api/v1/push"
    for attempt in range(3):
        try:
            response = client.post(
                endpoint, json={"streams": list(streams.values())}, headers=headers
            )
        except httpx.HTTPError as error:
            problem = f"cannot reach {endpoint}: {error or type(error).__name__}"
        else:
            if response.status_code in (200, 204):
                return
            problem = f"{endpoint}: HTTP {response.status_code} {response.text[:200]}"
            if response.status_code != 429 and response.status_code < 500:
                break
        time.sleep(0.5 * (attempt + 1))
    raise OSError(problem)


def append_file(path: Path, records: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        for report in records:
            file.write(json.dumps(report, separators=(",", ":")) + "\n")


def write(
    client: httpx.Client, target: AuditTarget, records: Sequence[dict[str, Any]]
) -> list[str]:
    """Write the records everywhere asked; the problems, one line each (empty: all written)."""
    problems = []
    if target.loki_url:
        try:
            push_loki(client, target.loki_url, records, target.tenant)
        except OSError as error:
            problems.append(f"audit to Loki failed: {error}")
    if target.file:
        try:
            append_file(target.file, records)
        except OSError as error:
            problems.append(f"audit to {target.file} failed: {error.strerror or error}")
    return problems
