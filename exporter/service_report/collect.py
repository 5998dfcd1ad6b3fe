"""Read a period's raw figures per site from Prometheus (the queries run concurrently:
Prometheus uses every core it has, and most of the time is its own)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from exporter.gate.prometheus import PrometheusAPI, Sample, Series
from exporter.service_report import queries
from exporter.service_report.period import MINUTE, Period
from exporter.service_report.queries import (
    CRITICAL,
    DOWN,
    MAINTENANCE_DOWN,
    MAINTENANCE_UP,
    SITE_KEY,
    TARGET_KEY,
    UNKNOWN,
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
    #: Epoch seconds of the minutes outside the site's service hours (counted in nothing).
    outside: set[int] = field(default_factory=set)
    #: Epoch second of a minute -> the probes CRITICAL then.
    probes: dict[int, set[str]] = field(default_factory=dict)
    #: Epoch second of a minute -> (probe, reason, part) of the CRITICAL probes' reasons.
    reasons: dict[int, set[tuple[str, str, str]]] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)


def _key(labels: dict[str, str], names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(labels.get(name, "") for name in names)


def _minutes(series: Series) -> list[tuple[int, float]]:
    return [(round(t), _number(v)) for t, v in series[1]]


def _minute_sets(answer: list[Series], only: float | None = None) -> dict[TargetKey, set[int]]:
    """Per exporter, the minutes of ``answer`` (with the value ``only``, if given)."""
    found: dict[TargetKey, set[int]] = {}
    for series in answer:
        minutes = {t for t, v in _minutes(series) if only is None or v == only}
        found.setdefault(_key(series[0], TARGET_KEY), set()).update(minutes)
    return found


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


#: Queries in flight at once: Prometheus runs each on its own core; more only queue there.
WORKERS = 4


def _seen_pieces(api: PrometheusAPI, period: Period) -> list[Callable[[], list[Any]]]:
    """The minutes each exporter's rollup is seen in the period, a piece (at most a day) each."""
    pieces: list[Callable[[], list[Any]]] = []
    first = period.start_s
    piece = queries.KNOWN_PIECE_MINUTES * MINUTE
    while first < period.end_s:
        last = min(first + piece, period.end_s) - MINUTE
        expr = queries.status_minutes(last - first)
        pieces.append(functools.partial(api.query, expr, last))
        first += piece
    return pieces


def _seen_while_not_scraped(
    pool: ThreadPoolExecutor, api: PrometheusAPI, not_scraped: list[Series]
) -> dict[TargetKey, set[int]]:
    """Per exporter, its minutes not scraped where its rollup (not UNKNOWN) is still seen: the
    ones to take from its minutes seen. One small query per exporter that had such minutes,
    over just their span."""
    spans: dict[TargetKey, tuple[dict[str, str], set[int]]] = {}
    for series in not_scraped:
        minutes = {t for t, _ in _minutes(series)}
        if minutes:
            key = _key(series[0], TARGET_KEY)
            spans.setdefault(key, (series[0], set()))[1].update(minutes)

    def seen(labels: dict[str, str], minutes: set[int]) -> set[int]:
        expr = queries.status_not_unknown(labels)
        answer = api.query_range(expr, min(minutes), max(minutes), MINUTE)
        return {t for series in answer for t, _ in _minutes(series)} & minutes

    futures = {key: pool.submit(seen, *span) for key, span in spans.items()}
    return {key: future.result() for key, future in futures.items()}


def collect(api: PrometheusAPI, info: str, period: Period) -> dict[SiteKey, RawSite]:
    """``info``: the selector of the sites' ``site_status_site_info`` (the ``--match``)."""
    last = period.end_s - MINUTE  # the period's last minute
    whole = period.end_s - period.start_s

    def instant(expr: str) -> Callable[[], list[Any]]:
        return lambda: api.query(expr, last)

    def ranged(expr: str) -> Callable[[], list[Any]]:
        return lambda: api.query_range(expr, period.start_s, last, MINUTE)

    asks: dict[str, Callable[[], list[Any]]] = {
        **{f"seen {n}": ask for n, ask in enumerate(_seen_pieces(api, period))},
        "not up": ranged(queries.NOT_UP_MINUTES),
        "maintenance": ranged(queries.MAINTENANCE_MINUTES),
        "outside": ranged(queries.OUTSIDE_SERVICE_MINUTES),
        "not scraped": ranged(queries.NOT_SCRAPED_MINUTES),
        "targets": instant(queries.targets(info, whole)),
        **{sli: instant(queries.objective(sli, whole)) for sli in SLIS},
    }
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {name: pool.submit(ask) for name, ask in asks.items()}
        answers = {name: future.result() for name, future in futures.items()}
        still_seen = _seen_while_not_scraped(pool, api, answers["not scraped"])
        sites, down = _sites(answers, still_seen)
        _add_causes(pool, api, down)
    return sites


def _sites(
    answers: dict[str, list[Any]], still_seen: dict[TargetKey, set[int]]
) -> tuple[dict[SiteKey, RawSite], dict[TargetKey, tuple[RawSite, set[int]]]]:
    """The sites with their minutes, and each exporter's site and minutes down outside
    maintenance."""
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

    minutes = {
        "critical": _minute_sets(answers["not up"], CRITICAL),
        "unknown": _minute_sets(answers["not up"], UNKNOWN),
        "maintenance": _minute_sets(answers["maintenance"]),
        "not scraped": _minute_sets(answers["not scraped"]),
        "outside": _minute_sets(answers["outside"]),
    }
    # Known: the rollup seen, less where it is UNKNOWN and where the exporter was not scraped
    # (the two are apart: ``still_seen`` has no UNKNOWN minute).
    for name, answer in answers.items():
        if name.startswith("seen "):
            for sample in answer:
                if found := of(sample[0]):
                    found.known += round(_number(sample[1]))
    for target, site in site_of.items():
        unknown, seen = minutes["unknown"].get(target, set()), still_seen.get(target, set())
        site.known -= len(unknown) + len(seen)
        # Outside the service hours nothing is counted: the gauge comes with the rollup (one
        # scrape), so each such minute was seen, and known unless UNKNOWN or not scraped.
        outside = minutes["outside"].get(target, set())
        site.known -= len(outside) - len(outside & unknown) - len(outside & seen)
        site.outside |= outside
    targets = set().union(*(found.keys() for found in minutes.values()))
    down: dict[TargetKey, tuple[RawSite, set[int]]] = {}
    for target in targets:
        if found := site_of.get(target):
            scraped_out = minutes["not scraped"].get(target, set())
            scraped_out |= minutes["outside"].get(target, set())
            crit = minutes["critical"].get(target, set()) - scraped_out
            kept = minutes["maintenance"].get(target, set()) - scraped_out
            kept -= minutes["unknown"].get(target, set())
            found.counts[DOWN] += len(crit - kept)
            found.counts[MAINTENANCE_UP] += len(kept - crit)
            found.counts[MAINTENANCE_DOWN] += len(crit & kept)
            found.down.update(crit - kept)
            down[target] = (found, crit - kept)
    by_site_key = {_key(site.labels, SITE_KEY): site for site in sites.values()}
    for sli in SLIS:
        for sample in answers[sli]:
            if found_site := by_site_key.get(_key(sample[0], SITE_KEY)):
                found_site.objectives[sli] = _number(sample[1])
    return sites, down


#: Minutes down of one exporter less than this apart are asked for their causes together.
CAUSE_GAP_MINUTES = 60


def _windows(minutes: set[int]) -> list[tuple[int, int]]:
    """``minutes`` as [first, last] windows, joined across gaps under CAUSE_GAP_MINUTES."""
    windows: list[tuple[int, int]] = []
    for t in sorted(minutes):
        if windows and t - windows[-1][1] < CAUSE_GAP_MINUTES * MINUTE:
            windows[-1] = (windows[-1][0], t)
        else:
            windows.append((t, t))
    return windows


def _add_causes(
    pool: ThreadPoolExecutor, api: PrometheusAPI, down: dict[TargetKey, tuple[RawSite, set[int]]]
) -> None:
    """The CRITICAL probes and their reasons at each exporter's minutes down, asked over those
    minutes only: a month of every probe of a fleet cost more than any other query."""
    asked: list[tuple[RawSite, set[int], Future[list[Series]]]] = []
    for target, (site, minutes) in down.items():
        expr = queries.critical_probes(dict(zip(TARGET_KEY, target, strict=True)))
        for first, last in _windows(minutes):
            ask = functools.partial(api.query_range, expr, first, last, MINUTE)
            asked.append((site, minutes, pool.submit(ask)))
    for site, minutes, future in asked:
        for labels, points in future.result():
            probe = labels.get("probe", "?")
            cause = (probe, labels.get("reason", ""), labels.get("part", ""))
            reason = labels.get("__name__") == queries.PROBE_REASON
            for t in {round(t) for t, _ in points} & minutes:
                if reason:
                    site.reasons.setdefault(t, set()).add(cause)
                else:
                    site.probes.setdefault(t, set()).add(probe)
