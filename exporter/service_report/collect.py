"""Read a period's raw figures per site from Prometheus (the queries run concurrently:
Prometheus uses every core it has, and most of the time is its own)."""

from __future__ import annotations

import functools
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


def _minute_sets(answer: list[Series]) -> dict[TargetKey, set[int]]:
    found: dict[TargetKey, set[int]] = {}
    for series in answer:
        found.setdefault(_key(series[0], TARGET_KEY), set()).update(t for t, _ in _minutes(series))
    return found


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


#: Queries in flight at once: Prometheus runs each on its own core; more only queue there.
WORKERS = 4


def _known_pieces(api: PrometheusAPI, period: Period) -> list[Callable[[], list[Any]]]:
    """The known-minute counts of the period, a piece (at most a day) each."""
    pieces: list[Callable[[], list[Any]]] = []
    first = period.start_s
    piece = queries.KNOWN_PIECE_MINUTES * MINUTE
    while first < period.end_s:
        last = min(first + piece, period.end_s) - MINUTE
        expr = queries.known_minutes(last - first)
        pieces.append(functools.partial(api.query, expr, last))
        first += piece
    return pieces


def collect(api: PrometheusAPI, info: str, period: Period) -> dict[SiteKey, RawSite]:
    """``info``: the selector of the sites' ``site_status_site_info`` (the ``--match``)."""
    last = period.end_s - MINUTE  # the period's last minute
    whole = period.end_s - period.start_s

    def instant(expr: str) -> Callable[[], list[Any]]:
        return lambda: api.query(expr, last)

    def ranged(expr: str) -> Callable[[], list[Any]]:
        return lambda: api.query_range(expr, period.start_s, last, MINUTE)

    asks: dict[str, Callable[[], list[Any]]] = {
        **{f"known {n}": ask for n, ask in enumerate(_known_pieces(api, period))},
        "critical": ranged(queries.CRITICAL_MINUTES),
        "maintenance": ranged(queries.MAINTENANCE_MINUTES),
        "unknown": ranged(queries.UNKNOWN_MINUTES),
        "not scraped": ranged(queries.NOT_SCRAPED_MINUTES),
        "probes": ranged(queries.CRITICAL_PROBES),
        "reasons": ranged(queries.PROBE_REASONS),
        "targets": instant(queries.targets(info, whole)),
        **{sli: instant(queries.objective(sli, whole)) for sli in SLIS},
    }
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
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

    for name, answer in answers.items():
        if name.startswith("known "):
            for sample in answer:
                if found := of(sample[0]):
                    found.known += round(_number(sample[1]))
    series: Series
    minutes = {
        name: _minute_sets(answers[name])
        for name in ("critical", "maintenance", "unknown", "not scraped")
    }
    targets = set().union(*(found.keys() for found in minutes.values()))
    for target in targets:
        if found := site_of.get(target):
            scraped_out = minutes["not scraped"].get(target, set())
            crit = minutes["critical"].get(target, set()) - scraped_out
            kept = minutes["maintenance"].get(target, set()) - scraped_out
            kept -= minutes["unknown"].get(target, set())
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
