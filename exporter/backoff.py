"""Retry delays: exponential with jitter, never shorter than the server's ``Retry-After``.

One rule for every retry loop (the Loki pusher, the Kubernetes reflector): the n-th delay is
drawn from the upper half of ``min(longest, first * 2^n)`` ("equal jitter"), so delays grow
steadily and exporters that failed together do not retry together. client-go's reflector
backoff (``wait.NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)``: each wait the current
step plus up to 100 % jitter) is this rule with ``first=1.6, longest=60``.
"""

from __future__ import annotations

import math
import random as random_module
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: A ``Retry-After`` longer than this is capped: a misconfigured proxy must not park the
#: reports for a day.
MAX_RETRY_AFTER = 600.0


class Backoff:
    """Delays for consecutive failures; ``reset()`` after a success. With ``reset_after``, a
    delay asked for after that long without one starts over (the peer is taken to be healthy
    again), for loops that never learn of a success."""

    def __init__(
        self,
        first: float,
        longest: float,
        reset_after: float | None = None,
        random: Callable[[], float] = random_module.random,
    ) -> None:
        self.first = first
        self.longest = longest
        self.reset_after = reset_after
        self.failures = 0
        self._random = random
        self._last = -math.inf

    def next_delay(self, retry_after: float | None = None) -> float:
        now = time.monotonic()
        if self.reset_after is not None and now - self._last > self.reset_after:
            self.failures = 0
        self._last = now
        ceiling = min(self.longest, math.ldexp(self.first, min(self.failures, 62)))
        self.failures += 1
        delay = ceiling / 2 + self._random() * ceiling / 2
        return max(delay, retry_after or 0.0)

    def reset(self) -> None:
        self.failures = 0


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
