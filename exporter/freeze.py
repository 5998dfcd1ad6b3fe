"""A site's deploy freeze: after a failed rollout, no further rollouts until it is lifted.

It lives in annotations on the exporter's own Deployment, the object the exporter already reads
for its maintenance annotation: it outlives the gate that set it (the next pipeline run, another
runner) and the exporter (a restart reads it again); ``kubectl`` shows and edits it; and the
exporter publishes it on ``/status`` and in ``/metrics``, so the gate sees it through either of
its sources. Kept free of the Kubernetes client: the exporter's web side and the gate import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FROZEN_SINCE = "site-status.io/frozen-since"
FREEZE_REASON = "site-status.io/freeze-reason"
FROZEN_BY = "site-status.io/frozen-by"
#: Annotation values are operator text: cut where they are shown or become a label.
MAX_REASON = 300


@dataclass(frozen=True)
class Freeze:
    since: datetime
    reason: str
    by: str = ""

    def document(self) -> dict[str, Any]:
        return {
            "since": self.since.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "reason": self.reason,
            "by": self.by,
        }


def read_freeze(annotations: dict[str, Any]) -> Freeze | None:
    """The freeze the annotations declare; ``ValueError`` (one line) for a bad time."""
    since = annotations.get(FROZEN_SINCE)
    if not since:
        return None
    try:
        moment = datetime.fromisoformat(str(since).strip())
    except ValueError:
        raise ValueError(
            f"{FROZEN_SINCE}: {since!r} is not an RFC 3339 time like 2026-05-01T17:00:00Z"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    reason = " ".join(str(annotations.get(FREEZE_REASON) or "frozen").split())[:MAX_REASON]
    by = " ".join(str(annotations.get(FROZEN_BY) or "").split())[:MAX_REASON]
    return Freeze(moment, reason, by)


def freeze_patch(freeze: Freeze) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that sets the freeze on the Deployment."""
    document = freeze.document()
    return {
        "metadata": {
            "annotations": {
                FROZEN_SINCE: document["since"],
                FREEZE_REASON: freeze.reason,
                FROZEN_BY: freeze.by,
            }
        }
    }


def unfreeze_patch() -> dict[str, Any]:
    """A JSON merge patch that removes the freeze (null deletes a key)."""
    return {"metadata": {"annotations": {FROZEN_SINCE: None, FREEZE_REASON: None, FROZEN_BY: None}}}
