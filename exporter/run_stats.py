"""The exporter's own run counters, config reload results and event loop heartbeat (read by
/metrics and /healthz)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

#: The event loop is considered wedged when its heartbeat is older than this.
HEARTBEAT_FAIL_AFTER = 10.0


@dataclass
class RunStats:
    """Per-kind counters the runner keeps: runs by status, errors by reason, seconds spent."""

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    in_flight: int = 0

    def snapshot(
        self,
    ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int], dict[str, float]]:
        # Copies: the event loop may add keys while a scrape iterates.
        return dict(self.runs), dict(self.errors), dict(self.seconds)


@dataclass
class ExporterHealth:
    started_at: float = field(default_factory=time.time)
    heartbeat_at: float = field(default_factory=time.monotonic)
    reload_successful: bool = True
    reload_success_at: float = field(default_factory=time.time)
    reload_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def beat(self) -> None:
        self.heartbeat_at = time.monotonic()

    def heartbeat_age(self) -> float:
        return time.monotonic() - self.heartbeat_at

    def reloaded(self, error: str = "") -> None:
        with self._lock:
            self.reload_successful = not error
            self.reload_error = error
            if not error:
                self.reload_success_at = time.time()
