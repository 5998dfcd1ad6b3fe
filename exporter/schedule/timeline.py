"""A schedule's openings as instants: windows merged, blackouts cut out.

Everything asks the same question of a schedule, "which openings overlap this stretch of time",
so ``covers``, ``current`` and ``upcoming`` are all answers of :func:`openings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

#: How far ``upcoming`` looks ahead: a dated one-off next year is still found.
HORIZON = timedelta(days=400)
#: How far ``current`` looks back and ahead for the start and end of the opening it is in.
LOOKBACK = timedelta(days=40)


class Timed(Protocol):
    """A rule (or a one-off window): when it is open, whether it is a blackout, and why."""

    @property
    def blackout(self) -> bool: ...

    @property
    def reason(self) -> str: ...

    @property
    def zone(self) -> str: ...

    def intervals(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]: ...


@lru_cache(maxsize=64)
def zone_of(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Opening:
    """From ``start`` (inclusive) to ``end`` (exclusive); ``zone`` and ``reason`` are those of
    the rule that opened it (the earliest, when several merged)."""

    start: datetime
    end: datetime
    reason: str = ""
    zone: str = "UTC"


def _merged(spans: list[tuple[datetime, datetime, Timed]]) -> list[Opening]:
    result: list[Opening] = []
    for start, end, rule in sorted(spans, key=lambda span: (span[0], span[1])):
        if result and start <= result[-1].end:
            last = result[-1]
            if end > last.end:
                result[-1] = Opening(last.start, end, last.reason or rule.reason, last.zone)
            continue
        result.append(Opening(start, end, rule.reason, rule.zone))
    return result


def _cut(openings: list[Opening], blackouts: list[Opening]) -> list[Opening]:
    result = []
    for opening in openings:
        pieces = [opening]
        for black in blackouts:
            next_pieces = []
            for piece in pieces:
                if black.end <= piece.start or black.start >= piece.end:
                    next_pieces.append(piece)
                    continue
                if piece.start < black.start:
                    next_pieces.append(Opening(piece.start, black.start, piece.reason, piece.zone))
                if black.end < piece.end:
                    next_pieces.append(Opening(black.end, piece.end, piece.reason, piece.zone))
            pieces = next_pieces
        result.extend(pieces)
    return result


def openings(rules: Sequence[Timed], since: datetime, until: datetime) -> list[Opening]:
    """The openings that overlap ``[since, until)``, in order, whole (not clipped)."""
    # Look a little wider so that an opening merged across the edges is seen whole.
    wide_since, wide_until = since - timedelta(days=2), until + timedelta(days=2)
    allowed: list[tuple[datetime, datetime, Timed]] = []
    closed: list[tuple[datetime, datetime, Timed]] = []
    for rule in rules:
        target = closed if rule.blackout else allowed
        target.extend((start, end, rule) for start, end in rule.intervals(wide_since, wide_until))
    kept = _cut(_merged(allowed), _merged(closed))
    return [opening for opening in kept if opening.start < until and opening.end > since]


def covers(rules: Sequence[Timed], moment: datetime) -> bool:
    return current(rules, moment, lookback=timedelta(0)) is not None


def current(
    rules: Sequence[Timed], moment: datetime, lookback: timedelta = LOOKBACK
) -> Opening | None:
    """The opening ``moment`` is in, if any (its start and end found up to ``lookback`` away)."""
    for opening in openings(rules, moment - lookback, moment + lookback + timedelta(seconds=1)):
        if opening.start <= moment < opening.end:
            return opening
    return None


def upcoming(
    rules: Sequence[Timed], moment: datetime, count: int = 1, horizon: timedelta = HORIZON
) -> list[Opening]:
    """The next ``count`` openings that start after ``moment``, within ``horizon``."""
    found: dict[datetime, Opening] = {}
    step = timedelta(days=31)
    since = moment
    while len(found) < count and since < moment + horizon:
        until = min(since + step, moment + horizon)
        for opening in openings(rules, since, until):
            if moment < opening.start < until:
                found.setdefault(opening.start, opening)
        since = until
    return [found[start] for start in sorted(found)][:count]
