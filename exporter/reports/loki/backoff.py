"""Retry delays: exponential with jitter, never shorter than the server's ``Retry-After``."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: A ``Retry-After`` longer than this is capped: a misconfigured proxy must not park the
#: reports for a day.
MAX_RETRY_AFTER = 600.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After: 120`` or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # not str.isdigit alone: "²" is a digit to it
        return min(float(text), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class Backoff:
    """``min * 2^n`` capped at ``max``, drawn from its upper half ("equal jitter"): delays grow
    steadily, and exporters that failed together do not retry together."""

    def __init__(self, minimum: float, maximum: float, rng: random.Random | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self, retry_after: float | None = None) -> float:
        ceiling = min(self.maximum, math.ldexp(self.minimum, min(self.failures, 62)))
        self.failures += 1
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        return max(delay, retry_after or 0.0)

    def reset(self) -> None:
        self.failures = 0
