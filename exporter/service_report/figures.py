"""The report's figures, from the raw minutes of each site (no I/O: tested on its own).

Definitions (docs/alerts.md): availability = up / known; reliability = up outside maintenance /
(known - in maintenance); unknown time counts in neither. An *incident* is a run of consecutive
minutes down outside maintenance (an unscheduled interruption): a minute up, unknown or in
maintenance ends it. Error budget spent = time down / ((1 - target) x time counted): at most 1
(100 %) exactly when the target is met.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from exporter.service_report.collect import RawSite
from exporter.service_report.period import MINUTE, Period
from exporter.service_report.queries import DOWN, MAINTENANCE_DOWN, MAINTENANCE_UP

NO_TIER = "(no tier)"


@dataclass(frozen=True)
class Cause:
    probe: str
    reason: str = ""
    part: str = ""

    def text(self) -> str:
        why = ", ".join(filter(None, (self.reason, self.part)))
        return f"{self.probe} ({why})" if why else self.probe


@dataclass(frozen=True)
class Incident:
    start: int  # epoch seconds of its first minute
    end: int  # epoch seconds after its last minute
    causes: tuple[Cause, ...]
    #: It began before the period (its first minute is the period's), or goes on after it.
    began_before: bool = False
    ongoing: bool = False

    @property
    def minutes(self) -> int:
        return (self.end - self.start) // MINUTE


@dataclass(frozen=True)
class Minutes:
    total: int  # the period's minutes inside the service hours
    known: int
    down: int  # known and CRITICAL, in or outside maintenance
    maintenance: int  # known and inside a maintenance window
    down_outside_maintenance: int
    #: The period's minutes outside the site's service hours (counted in nothing).
    outside_service: int = 0

    @property
    def up(self) -> int:
        return self.known - self.down

    @property
    def unknown(self) -> int:
        return self.total - self.known

    @property
    def counted_for_reliability(self) -> int:
        return self.known - self.maintenance

    @property
    def up_outside_maintenance(self) -> int:
        return self.counted_for_reliability - self.down_outside_maintenance


def _ratio(good: int, counted: int) -> float | None:
    return good / counted if counted > 0 else None


def _spent(bad: int, counted: int, target: float | None) -> float | None:
    if target is None or counted <= 0:
        return None
    return bad / ((1 - target) * counted)


@dataclass(frozen=True)
class SiteFigures:
    labels: dict[str, str]
    minutes: Minutes
    targets: dict[str, float]
    incidents: tuple[Incident, ...]

    @property
    def name(self) -> str:
        return self.labels.get("site", "")

    @property
    def tier(self) -> str:
        return self.labels.get("tier") or NO_TIER

    @property
    def availability(self) -> float | None:
        return _ratio(self.minutes.up, self.minutes.known)

    @property
    def reliability(self) -> float | None:
        m = self.minutes
        return _ratio(m.up_outside_maintenance, m.counted_for_reliability)

    @property
    def budget_spent(self) -> dict[str, float | None]:
        m = self.minutes
        return {
            "availability": _spent(m.down, m.known, self.targets.get("availability")),
            "reliability": _spent(
                m.down_outside_maintenance,
                m.counted_for_reliability,
                self.targets.get("reliability"),
            ),
        }

    @property
    def met(self) -> bool | None:
        """Every target met; None without a target, or without data to judge it."""
        verdicts = [spent <= 1 for spent in self.budget_spent.values() if spent is not None]
        if not self.targets or not verdicts:
            return None
        return all(verdicts)

    @property
    def longest(self) -> Incident | None:
        return max(self.incidents, key=lambda i: (i.minutes, -i.start), default=None)


def incidents_of(raw: RawSite, period: Period) -> tuple[Incident, ...]:
    down = sorted(raw.down)
    runs: list[list[int]] = []
    for t in down:
        if runs and t == runs[-1][-1] + MINUTE:
            runs[-1].append(t)
        else:
            runs.append([t])
    incidents = []
    for run in runs:
        causes: dict[str, set[tuple[str, str]]] = {}
        for t in run:
            for probe in raw.probes.get(t, ()):
                causes.setdefault(probe, set())
            for probe, reason, part in raw.reasons.get(t, ()):
                causes.setdefault(probe, set()).add((reason, part))
        listed = tuple(
            Cause(probe, *why)
            for probe in sorted(causes)
            for why in (sorted(causes[probe]) or [("", "")])
        )
        end = run[-1] + MINUTE
        incidents.append(
            Incident(run[0], end, listed, run[0] == period.start_s, end >= period.end_s)
        )
    return tuple(incidents)


def site_figures(raw: RawSite, period: Period) -> SiteFigures:
    codes = raw.counts
    minutes = Minutes(
        total=period.minutes - len(raw.outside),
        known=raw.known,
        down=codes[DOWN] + codes[MAINTENANCE_DOWN],
        maintenance=codes[MAINTENANCE_UP] + codes[MAINTENANCE_DOWN],
        down_outside_maintenance=codes[DOWN],
        outside_service=len(raw.outside),
    )
    return SiteFigures(raw.labels, minutes, dict(raw.objectives), incidents_of(raw, period))


@dataclass(frozen=True)
class Recurrence:
    """A probe (with its reason) across the incidents of the fleet."""

    cause: Cause
    incidents: int
    sites: int
    minutes: int
    #: The most incidents it was part of at one site.
    most_at_one_site: int


def recurrences(sites: list[SiteFigures]) -> list[Recurrence]:
    """Probes that failed in incidents, the ones that recur at one site first, then the most
    frequent across the fleet."""
    incidents: Counter[Cause] = Counter()
    minutes: Counter[Cause] = Counter()
    per_site: dict[Cause, Counter[str]] = {}
    for site in sites:
        for incident in site.incidents:
            for cause in incident.causes:
                incidents[cause] += 1
                minutes[cause] += incident.minutes
                per_site.setdefault(cause, Counter())[site.name] += 1
    found = [
        Recurrence(
            cause,
            incidents[cause],
            len(per_site[cause]),
            minutes[cause],
            max(per_site[cause].values()),
        )
        for cause in incidents
    ]
    return sorted(
        found,
        key=lambda r: (r.most_at_one_site < 2, -r.incidents, -r.minutes, r.cause.probe),
    )


@dataclass
class TierFigures:
    tier: str
    sites: list[SiteFigures]
    #: Local date -> minutes down outside maintenance (for the chart).
    daily_down: dict[date, int] = field(default_factory=dict)

    def total(self, attribute: str) -> int:
        return sum(getattr(site.minutes, attribute) for site in self.sites)

    @property
    def availability(self) -> float | None:
        return _ratio(self.total("up"), self.total("known"))

    @property
    def reliability(self) -> float | None:
        return _ratio(self.total("up_outside_maintenance"), self.total("counted_for_reliability"))

    @property
    def met(self) -> int:
        return sum(site.met is True for site in self.sites)

    @property
    def missed(self) -> int:
        return sum(site.met is False for site in self.sites)

    @property
    def incidents(self) -> int:
        return sum(len(site.incidents) for site in self.sites)


TIER_ORDER = ("priprod", "flexprod", "besteffort")


def tiers_of(sites: list[SiteFigures], period: Period, days: list[date]) -> list[TierFigures]:
    by_tier: dict[str, TierFigures] = {}
    for site in sites:
        tier = by_tier.setdefault(site.tier, TierFigures(site.tier, [], dict.fromkeys(days, 0)))
        tier.sites.append(site)
        for incident in site.incidents:
            for t in range(incident.start, incident.end, MINUTE):
                day = period.local(t).date()
                tier.daily_down[day] = tier.daily_down.get(day, 0) + 1
    for tier in by_tier.values():
        # Missed first (most budget spent first), then the rest by availability.
        tier.sites.sort(key=_site_order)

    def rank(tier: TierFigures) -> tuple[int, str]:
        known = TIER_ORDER.index(tier.tier) if tier.tier in TIER_ORDER else len(TIER_ORDER)
        return known, tier.tier

    return sorted(by_tier.values(), key=rank)


def _site_order(site: SiteFigures) -> tuple[int, float, float, str]:
    spent = max((s for s in site.budget_spent.values() if s is not None), default=0.0)
    availability = site.availability if site.availability is not None else 2.0
    return (0 if site.met is False else 1, -spent, availability, site.name)
