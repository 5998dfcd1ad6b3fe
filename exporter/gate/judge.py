"""The gate's verdict on a reading, once or over a watch with a grace period."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from exporter.gate.model import SiteState
from exporter.status import Status

#: When no probe says how often it runs (Prometheus mode), a degradation must last this long.
DEFAULT_GRACE = 60.0
#: The longest grace a probe's interval gives: a probe that runs once a day does not hold a
#: pipeline for a day (``--grace`` says otherwise when that is wanted).
MAX_DERIVED_GRACE = 3600.0


class ExitCode(enum.IntEnum):
    """The gate's exit codes."""

    PASS = 0
    FAIL = 1
    USAGE = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Policy:
    max_status: Status
    allow_missing: bool = False
    #: A site in maintenance fails the gate like any other (off by default: it is expected to be
    #: down, and a deploy into a maintenance window is often the point).
    fail_in_maintenance: bool = False
    #: A frozen site fails the gate (not in a watch: the rollout has happened by then).
    honor_freeze: bool = True


@dataclass(frozen=True)
class Judged:
    site: SiteState
    degraded: bool
    #: Why the site is not counted although degraded (maintenance, allowed missing).
    excused: str = ""
    #: Failed because the site is in a deploy freeze.
    frozen: bool = False


def judge_site(site: SiteState, policy: Policy) -> Judged:
    if site.freeze is not None and policy.honor_freeze:
        return Judged(site, degraded=True, frozen=True)
    if site.status is None:
        if policy.allow_missing:
            return Judged(site, degraded=False, excused="missing, allowed")
        return Judged(site, degraded=True)
    above = site.status.worse_than(policy.max_status)
    if above and site.maintenance and not policy.fail_in_maintenance:
        return Judged(site, degraded=False, excused="in maintenance")
    return Judged(site, degraded=above)


def judge(sites: Sequence[SiteState], policy: Policy) -> list[Judged]:
    return [judge_site(site, policy) for site in sites]


def grace_of(site: SiteState, grace: float | None) -> float:
    """How long a degradation of ``site`` must last to fail a watch: ``--grace``, else one
    interval of its slowest failing probe (it cannot recover sooner than its next run)."""
    if grace is not None:
        return grace
    intervals = [probe.interval_seconds for probe in site.failing if probe.interval_seconds]
    return min(max(intervals, default=DEFAULT_GRACE), MAX_DERIVED_GRACE)


class Watch:
    """Degradations seen over time: one fails the watch once it has lasted past its grace."""

    def __init__(self, policy: Policy, grace: float | None) -> None:
        self.policy = policy
        self.grace = grace
        self._since: dict[str, float] = {}

    def observe(self, sites: Sequence[SiteState], now: float) -> tuple[list[Judged], list[Judged]]:
        """This reading judged, and the degradations that have now lasted past their grace."""
        judged = judge(sites, self.policy)
        degraded = {j.site.key for j in judged if j.degraded}
        for name in list(self._since):
            if name not in degraded:
                del self._since[name]  # recovered: a later degradation starts its grace anew
        lasting = []
        for verdict in judged:
            if not verdict.degraded:
                continue
            since = self._since.setdefault(verdict.site.key, now)
            if now - since >= grace_of(verdict.site, self.grace):
                lasting.append(verdict)
        return judged, lasting

    def degraded_for(self, site: str, now: float) -> float:
        return now - self._since[site] if site in self._since else 0.0
