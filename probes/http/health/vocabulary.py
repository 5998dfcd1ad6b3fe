"""The words health bodies use for their state, graded: what the generic reader
(``generic``) knows without an adapter. Matching ignores case, and runs of spaces,
underscores and hyphens count as one space (``Partially Available``, ``partially_available``,
``PARTIALLY-AVAILABLE``). A word that is in none of the lists is not guessed: it grades
UNKNOWN where it is the document's own status, and is left out where it is only a value.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from exporter.status import Status

_SEPARATORS = re.compile(r"[\s_\-]+")

HEALTHY_WORDS = frozenset(
    {
        "ok", "okay", "up", "pass", "passed", "passing", "healthy", "green", "good", "fine",
        "running", "ready", "available", "alive", "live", "serving", "success", "successful",
        "succeeded", "connected", "online", "active", "working", "operational", "normal",
        "true", "yes", "all ok", "all good",
    }
)  # fmt: skip
DEGRADED_WORDS = frozenset(
    {
        "warn", "warning", "warnings", "degraded", "yellow", "partially available", "partial",
        "partially healthy", "partially degraded", "partial outage", "limited", "unstable",
        "impaired", "starting", "initializing", "recovering", "draining", "shutting down",
        "stopping", "paused", "settling",
    }
)  # fmt: skip
FAILURE_WORDS = frozenset(
    {
        "fail", "failed", "failing", "failure", "error", "errored", "errors", "err", "down",
        "unhealthy", "unavailable", "not available", "critical", "red", "bad", "dead",
        "offline", "disconnected", "not connected", "unreachable", "not ok", "ko", "nok",
        "false", "no", "stopped", "crashed", "broken", "fatal", "timeout", "timed out",
        "not ready", "not serving", "not running", "maintenance", "major outage", "outage",
        "service unavailable", "sick",
    }
)  # fmt: skip

#: States that say a part is not in use, neither healthy nor failed (Alertmanager's
#: ``"cluster": {"status": "disabled"}``): such a part is left out, not graded UNKNOWN.
NEUTRAL_WORDS = frozenset(
    {"disabled", "not configured", "unconfigured", "none", "n/a", "not applicable", "skipped",
     "excluded", "ignored", "not enabled"}
)  # fmt: skip

WORDS: Mapping[str, Status] = {
    **{word: Status.OK for word in HEALTHY_WORDS},
    **{word: Status.WARNING for word in DEGRADED_WORDS},
    **{word: Status.CRITICAL for word in FAILURE_WORDS},
}

#: Fields that hold a document's (or a component's) own state, in the order they are read.
STATUS_KEYS = (
    "status", "state", "health", "healthy", "ok", "up", "ready", "live", "alive",
    "overall_status", "reachable", "connected",
)  # fmt: skip
#: Flags that, when true, say the service is not serving as it should.
FAILURE_FLAGS: Mapping[str, Status] = {
    "sealed": Status.CRITICAL,
    "maintenance": Status.CRITICAL,
    "maintenance_mode": Status.CRITICAL,
    "in_maintenance": Status.CRITICAL,
    "failed": Status.CRITICAL,
    "failing": Status.CRITICAL,
    "down": Status.CRITICAL,
    "unhealthy": Status.CRITICAL,
    "degraded": Status.WARNING,
}
#: Fields that say why, in the order they are quoted.
REASON_KEYS = (
    "reason", "message", "error", "errors", "details", "detail", "output", "cause", "msg",
    "error_message", "errorMessage", "description",
)  # fmt: skip


@functools.lru_cache(maxsize=1024)
def normalized(word: str) -> str:
    """``"partially available"`` from ``" Partially_Available "`` (cached: a document repeats
    its few words)."""
    return _SEPARATORS.sub(" ", word.strip().lower())


def word_status(raw: object, status_map: Mapping[str, Status]) -> Status | None:
    """The grade of a state value: a word from the user's ``status_map`` (lower case) or the
    lists above, or a boolean (true is healthy); None for anything else (numbers, unknown
    words, objects)."""
    if isinstance(raw, bool):
        return Status.OK if raw else Status.CRITICAL
    if not isinstance(raw, str):
        return None
    word = normalized(raw)
    if raw.lower() in status_map:
        return status_map[raw.lower()]
    if word in status_map:
        return status_map[word]
    return WORDS.get(word)


def is_neutral(raw: object) -> bool:
    """A state word that says the part is not in use (``disabled``)."""
    return isinstance(raw, str) and normalized(raw) in NEUTRAL_WORDS


def is_true(raw: object) -> bool:
    """A flag that is set: ``true`` or the string ``"true"``."""
    return raw is True or (isinstance(raw, str) and normalized(raw) == "true")
