"""The status model: four graded states with Nagios codes, and how they roll up."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(enum.IntEnum):
    """A graded status. The value is the Nagios plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        """Rank for rollups: CRITICAL > UNKNOWN > WARNING > OK (not the numeric code)."""
        return _SEVERITY[self]

    def worse_than(self, other: Status) -> bool:
        return self.severity > other.severity

    def capped(self, limit: Status) -> Status:
        """This status, but no more severe than ``limit``."""
        return limit if self.severity > limit.severity else self


_SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status, OK when there is none."""
    return max(statuses, key=lambda s: s.severity, default=Status.OK)
