"""``history`` in ``/status``: the site's recent transitions as JSON, and the one-line summary a
person reads at a glance ("6 changes since 10:00:12 UTC, 3 times to CRITICAL"). The status page
renders the same document, on the server and in its script, so both show the same.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from exporter.history import SITE, Kept, Transition
from exporter.status import Status

#: How many probes the summary names (the ones that changed most).
SUMMARY_PROBES = 3


def change_document(change: Transition, now: float) -> dict[str, Any]:
    """One transition: times as unix seconds like the rest of /status, ``probe`` null for the
    site's rollup, ``held_seconds`` up to its end or, while it holds, up to now."""
    return {
        "at": round(change.at, 3),
        "probe": None if change.subject == SITE else change.subject,
        "status": change.after.name,
        "code": int(change.after),
        "previous_status": change.before.name if change.before is not None else None,
        "summary": change.summary,
        "ended_at": round(change.ended_at, 3) if change.ended_at is not None else None,
        "held_seconds": round(max(0.0, change.lasted(now)), 3),
    }


def history_head(kept: Kept, now: float) -> dict[str, Any]:
    """The document's fields besides ``changes``."""
    return {
        "since": round(kept.since, 3),
        "limit": kept.limit,
        "text": summary_text(kept.changes, kept.since, now),
    }


def history_document(kept: Kept, now: float) -> dict[str, Any]:
    return {
        **history_head(kept, now),
        "changes": [change_document(change, now) for change in kept.changes],
    }


def summary_text(changes: list[Transition], since: float, now: float) -> str:
    """``6 changes of the site's status since 10:00:12 UTC, 3 times to CRITICAL; most changes:
    marker (6)``. A probe's or the site's first status (at the start) is not a change."""
    changed = [change for change in changes if change.before is not None]
    site = [change.after for change in changed if change.subject == SITE]
    when = f"since {clock(since, now)} UTC"
    if not site:
        text = f"No change of the site's status {when}"
    else:
        plural = "" if len(site) == 1 else "s"
        text = f"{len(site)} change{plural} of the site's status {when}"
        bad = Counter(status for status in site if status is not Status.OK)
        worst = sorted(bad, key=lambda status: -status.severity)
        if worst:
            text += ", " + ", ".join(f"{bad[s]} {_times(bad[s])} to {s.name}" for s in worst)
    probes = Counter(change.subject for change in changed if change.subject != SITE)
    if probes:
        top = probes.most_common(SUMMARY_PROBES)
        text += "; most changes: " + ", ".join(f"{name} ({n})" for name, n in top)
    return text


def _times(n: int) -> str:
    return "time" if n == 1 else "times"


def clock(at: float, now: float) -> str:
    """``10:00:12`` today (UTC), ``2026-12-06 10:00:12`` on another day."""
    moment = datetime.fromtimestamp(at, UTC)
    today = datetime.fromtimestamp(now, UTC).date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%Y-%m-%d %H:%M:%S")
