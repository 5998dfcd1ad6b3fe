"""The whole report: figures per tier and site, recurring causes, and what the data lacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exporter.service_report.collect import RawSite, SiteKey
from exporter.service_report.figures import (
    Recurrence,
    SiteFigures,
    TierFigures,
    recurrences,
    site_figures,
    tiers_of,
)
from exporter.service_report.period import Period, days

#: More unknown time than this share of the period is said in the notes.
UNKNOWN_NOTE_SHARE = 0.01


@dataclass(frozen=True)
class Report:
    period: Period
    source: str
    match: str
    generated: datetime
    tiers: list[TierFigures]
    recurring: list[Recurrence]
    notes: list[str]

    @property
    def sites(self) -> list[SiteFigures]:
        return [site for tier in self.tiers for site in tier.sites]


def _names(sites: list[SiteFigures], limit: int = 10) -> str:
    names = sorted(f"{s.name} ({s.labels.get('environment', '')})" for s in sites)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def notes_of(period: Period, sites: list[SiteFigures], match: str) -> list[str]:
    notes = []
    if period.planned_end is not None:
        notes.append(
            f"The period is not over: figures up to {period.end:%Y-%m-%d %H:%M %Z}, "
            f"of a period that ends {period.planned_end:%Y-%m-%d %H:%M %Z}."
        )
    if not sites:
        notes.append(f"No site matched {match or '{}'} in this period: there is nothing to report.")
        return notes
    served = [s for s in sites if s.minutes.outside_service]
    if served:
        notes.append(
            f"Counted in their service hours only (site_status_service_hours; the rest of the "
            f"period counts in nothing, as in the recording rules): {_names(served)}."
        )
    empty = [s for s in sites if s.minutes.known == 0]
    if empty:
        notes.append(f"No data at all for {len(empty)} site(s), so no figures: {_names(empty)}.")
    partial = [
        s
        for s in sites
        if s.minutes.known and s.minutes.unknown > UNKNOWN_NOTE_SHARE * s.minutes.total
    ]
    if partial:
        notes.append(
            f"Data is missing for more than {UNKNOWN_NOTE_SHARE:.0%} of the period for "
            f"{len(partial)} site(s) (exporter not scraped, rollup UNKNOWN, or no series "
            f"yet): their ratios count only the known time, and the unknown minutes are "
            f"listed, not guessed: {_names(partial)}."
        )
    return notes


def build(
    raw: dict[SiteKey, RawSite], period: Period, source: str, match: str, now: datetime
) -> Report:
    sites = [site_figures(r, period) for _, r in sorted(raw.items())]
    return Report(
        period=period,
        source=source,
        match=match,
        generated=now,
        tiers=tiers_of(sites, period, days(period)),
        recurring=recurrences(sites),
        notes=notes_of(period, sites, match),
    )
