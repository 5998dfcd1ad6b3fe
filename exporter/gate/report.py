"""What the gate prints: Nagios-plugin style lines for people, one JSON document for machines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exporter.gate.judge import ExitCode, Judged
from exporter.gate.model import SiteState
from exporter.status import Status
from exporter.visible_text import visible

#: A site's line is cut here: a pipeline log is read by a person, one line per site.
LINE_LIMIT = 400

_WORDS = {ExitCode.PASS: "OK", ExitCode.FAIL: "FAIL", ExitCode.USAGE: "UNKNOWN"}


def first_line(outcome: ExitCode, text: str) -> str:
    return f"GATE {_WORDS.get(outcome, 'UNKNOWN')} - {visible(text)}"


def cut(text: str, limit: int = LINE_LIMIT) -> str:
    """One visible line of at most ``limit`` characters: a source's names and summaries can
    hold newlines and escape sequences that would overwrite the verdict on a terminal."""
    text = visible(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def probe_reasons(site: SiteState) -> str:
    reasons = [
        f"{probe.name}: {probe.summary}" if probe.summary else f"{probe.name} {probe.status.name}"
        for probe in site.failing
    ]
    return "; ".join(reasons) or "no probe named"


def site_line(verdict: Judged) -> str:
    site = verdict.site
    if verdict.frozen and site.freeze is not None:
        line = f"{site.key} FROZEN - {site.freeze.words()}"
    elif site.status is None:
        line = f"{site.key} MISSING - {site.missing_reason}"
    else:
        line = f"{site.key} {site.status.name} - {probe_reasons(site)}"
    if verdict.excused:
        line += f" ({verdict.excused}, not counted)"
    return cut(line)


def summary_text(judged: Sequence[Judged], max_status: Status) -> tuple[ExitCode, str]:
    failing = [j for j in judged if j.degraded]
    excused = [j for j in judged if j.excused]
    frozen = [j for j in failing if j.frozen and j.site.freeze is not None]
    if frozen and len(frozen) == len(failing):
        names = ", ".join(j.site.key for j in frozen)
        first = frozen[0].site.freeze
        assert first is not None
        return ExitCode.FAIL, cut(
            f"{len(frozen)} of {len(judged)} site(s) frozen: {names} ({first.words()})"
        )
    if failing:
        names = ", ".join(j.site.key for j in failing)
        return ExitCode.FAIL, cut(
            f"{len(failing)} of {len(judged)} site(s) above {max_status.name}: {names}"
        )
    text = f"{len(judged)} site(s) at most {max_status.name}"
    if excused:
        text += f" ({len(excused)} excused: " + ", ".join(j.site.key for j in excused) + ")"
    return ExitCode.PASS, text


def lines(judged: Sequence[Judged]) -> list[str]:
    """One line per site that fails or is excused, failing first."""
    return [site_line(j) for j in judged if j.degraded] + [
        site_line(j) for j in judged if j.excused
    ]


def site_document(verdict: Judged) -> dict[str, Any]:
    site = verdict.site
    return {
        "site": site.site,
        **site.labels,
        "status": site.status.name if site.status is not None else None,
        "missing": site.status is None,
        "missing_reason": site.missing_reason or None,
        "maintenance": site.maintenance,
        "degraded": verdict.degraded,
        "excused": verdict.excused or None,
        "freeze": {"since": site.freeze.since, "reason": site.freeze.reason, "by": site.freeze.by}
        if site.freeze is not None
        else None,
        "failing_probes": [
            {"name": p.name, "status": p.status.name, "summary": p.summary} for p in site.failing
        ],
    }


def document(
    outcome: ExitCode, reason: str, judged: Sequence[Judged], extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "result": {0: "pass", 1: "fail", 2: "error", 3: "unknown"}[int(outcome)],
        "exit_code": int(outcome),
        "reason": reason,
        **extra,
        "sites": [site_document(j) for j in judged],
    }
