"""Read a period's raw figures per site from Prometheus (the queries run concurrently:
Prometheus uses every core it has, and most of the time is its own)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from exporter.gate.prometheus import PrometheusAPI, Sample, Series
from exporter.service_report import queries
from exporter.service_report.period import MINUTE, Period
from exporter.service_report.queries import (
    DOWN,
    MAINTENANCE_DOWN,
    MAINTENANCE_UP,
    SITE_KEY,
    TARGET_KEY,
)

SiteKey = tuple[str, ...]
TargetKey = tuple[str, ...]
SLIS = ("availability", "reliability")


@dataclass
class RawSite:
    labels: dict[str, str]
    #: Exporter-minutes known (summed over the site's exporters).
    known: int = 0
    #: Code (queries.DOWN, MAINTENANCE_UP, MAINTENANCE_DOWN) -> exporter-minutes with it.
    counts: Counter[int] = field(default_factory=Counter)
    #: Epoch seconds of the minutes some exporter of the site was down outside maintenance.
    down: set[int] = field(default_factory=set)
    #: Epoch second of a minute -> the probes CRITICAL then.
    probes: dict[int, set[str]] = field(default_factory=dict)
    #: Epoch second of a minute -> (probe, reason, part) of the CRITICAL probes' reasons.
    reasons: dict[int, set[tuple[str, str, str]]] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)


def _key(labels: dict[str, str], names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in names)


def _minutes(series: Series) -> list[tuple[int, float]]:
    return [(round(t), _number(v)) for t, v in series[1]]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def collect(api: PrometheusAPI, info: str, period: Period) -> dict[SiteKey, RawSite]:
    """``info``: the selector of the sites' ``site_status_site_info`` (the ``--match``)."""
    last = period.end_s - MINUTE  # the period's last minute
    span = last - period.start_s  # a range from the first minute to the last, both included
    whole = period.end_s - period.start_s

    def instant(expr: str) -> Callable[[], list[Any]]:
        return lambda: api.query(expr, last)

    def ranged(expr: str) -> Callable[[], list[Any]]:
        return lambda: api.query_range(expr, period.start_s, last, MINUTE)

    asks: dict[str, Callable[[], list[Any]]] = {
        "down": ranged(queries.DOWN_MINUTES),
        "maintenance": ranged(queries.MAINTENANCE_MINUTES),
        "known": instant(queries.known_minutes(span)),
        "probes": ranged(queries.CRITICAL_PROBES),
        "reasons": ranged(queries.PROBE_REASONS),
        "targets": instant(queries.targets(info, whole)),
        **{sli: instant(queries.objective(sli, whole)) for sli in SLIS},
    }
    with ThreadPoolExecutor(max_workers=len(asks)) as pool:
        futures = {name: pool.submit(ask) for name, ask in asks.items()}
        answers = {name: future.result() for name, future in futures.items()}
    return _sites(answers)


def _sites(answers: dict[str, list[Any]]) -> dict[SiteKey, RawSite]:
    sites: dict[SiteKey, RawSite] = {}
    site_of: dict[TargetKey, RawSite] = {}
    sample: Sample
    # Sorted: an exporter whose site labels changed within the period goes with one of them.
    for sample in sorted(answers["targets"], key=lambda s: sorted(s[0].items())):
        labels = {name: sample[0].get(name, "") for name in SITE_KEY}
        site = sites.setdefault(_key(labels, SITE_KEY), RawSite(labels))
        site_of.setdefault(_key(sample[0], TARGET_KEY), site)

    def of(labels: dict[str, str]) -> RawSite | None:
        return site_of.get(_key(labels, TARGET_KEY))

    for sample in answers["known"]:
        if found := of(sample[0]):
            found.known += round(_number(sample[1]))
    series: Series
    down: dict[TargetKey, set[int]] = {}
    for series in answers["down"]:
        down.setdefault(_key(series[0], TARGET_KEY), set()).update(t for t, _ in _minutes(series))
    maintenance: dict[TargetKey, set[int]] = {}
    for series in answers["maintenance"]:
        target = _key(series[0], TARGET_KEY)
        maintenance.setdefault(target, set()).update(t for t, _ in _minutes(series))
    for target in down.keys() | maintenance.keys():
        if found := site_of.get(target):
            crit, kept = down.get(target, set()), maintenance.get(target, set())
            found.counts[DOWN] += len(crit - kept)
            found.counts[MAINTENANCE_UP] += len(kept - crit)
            found.counts[MAINTENANCE_DOWN] += len(crit & kept)
            found.down.update(crit - kept)
    for series in answers["probes"]:
        if found := of(series[0]):
            probe = series[0].get("probe", "?")
            for t, _ in _minutes(series):
                found.probes.setdefault(t, set()).add(probe)
    for series in answers["reasons"]:
        if found := of(series[0]):
            labels = series[0]
            cause = (labels.get("probe", "?"), labels.get("reason", ""), labels.get("part", ""))
            for t, _ in _minutes(series):
                found.reasons.setdefault(t, set()).add(cause)
    by_site_key = {_key(site.labels, SITE_KEY): site for site in sites.values()}
    for sli in SLIS:
        for sample in answers[sli]:
            if found_site := by_site_key.get(_key(sample[0], SITE_KEY)):
                found_site.objectives[sli] = _number(sample[1])
    return sites
