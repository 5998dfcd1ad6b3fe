"""A failure that lasts: one log line when it starts, one when it ends, repeats at debug.

A full disk or a Loki that refuses us fails every few seconds for hours; a line per failure
buries everything else in the log. An episode remembers when it started, how often it failed
and the latest error, which is what ``/healthz`` and the series show.
"""

from __future__ import annotations

import logging
import time


class Episode:
    def __init__(self, what: str, logger: logging.Logger, level: int = logging.ERROR) -> None:
        self.what = what
        self.log = logger
        self.level = level
        #: Unix time of the first failure of the current episode; None while it works.
        self.since: float | None = None
        self.failures = 0
        self.error = ""

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, error: object) -> bool:
        """Record a failure; True (and one log line) if it starts an episode."""
        self.failures += 1
        self.error = str(error) or type(error).__name__
        if self.since is not None:
            self.log.debug("%s failed again: %s", self.what, self.error)
            return False
        self.since = time.time()
        self.log.log(
            self.level, "%s failed: %s (logged once until it works again)", self.what, self.error
        )
        return True

    def succeeded(self) -> bool:
        """Record a success; True (and one log line) if it ends an episode."""
        if self.since is None:
            return False
        self.log.info(
            "%s works again after %d failure(s) in %.0fs",
            self.what,
            self.failures,
            time.time() - self.since,
        )
        self.since = None
        self.failures = 0
        self.error = ""
        return True
