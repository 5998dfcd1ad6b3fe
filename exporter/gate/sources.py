"""Where the gate reads site status: exporters' ``/status``, or Prometheus' query API.

Whatever a source sends is checked before it is believed: a document of another shape is
``SourceUnreachable`` (exit 3, one line), never a traceback and never a pass. Through
Prometheus, everything about a site is joined on the identity of the exporter that published it
(``cluster``, ``job``, ``instance``), never on a label: a site's ``site`` label can be
published by any scrape target, its identity only by the target itself.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from exporter.gate.fetch import Fetcher
from exporter.gate.matchers import Matcher, describe, selector
from exporter.gate.model import (
    FreezeSeen,
    GateProbe,
    SiteState,
    SourceUnreachable,
    worst_first,
)
from exporter.gate.prometheus import answer_data, vector_samples
from exporter.redact import redact_url
from exporter.status import Status, worst
from exporter.units import format_duration

SITE_LABELS = ("site", "environment", "tier", "profile")
#: Who published a series: the scrape target (``job``, ``instance``) and, where several
#: Prometheus servers are queried as one (Thanos, Mimir), their ``cluster`` external label.
IDENTITY = ("cluster", "job", "instance")
#: A probe interval beyond this is not believed (a watch's grace is one interval).
MAX_INTERVAL = 24 * 3600.0
#: The longest text taken from a document for a name or a summary.
TEXT_CHARS = 1000

Identity = tuple[str, ...]
#: A site: its cluster (empty on one Prometheus) and its name. The same name in two clusters is
#: two sites (dev, test and prod run the same sites: docs/clusters.md).
SiteKey = tuple[str, str]


class Source(Protocol):
    def read(self) -> list[SiteState]: ...

    def describe(self) -> str: ...


def _status(value: object) -> Status:
    """A Nagios code as a status; anything else (NaN, garbage) is UNKNOWN."""
    if isinstance(value, bool):
        return Status.UNKNOWN
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
        return Status(int(number)) if number == int(number) else Status.UNKNOWN
    except (ValueError, OverflowError):
        return Status.UNKNOWN


def _text(value: object, default: str = "") -> str:
    """A string field as text, capped; anything else (a number, a list) as ``default``."""
    if isinstance(value, str):
        return value[:TEXT_CHARS]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:TEXT_CHARS]
    return default


def _interval(value: object) -> float | None:
    """A probe's interval in seconds, when it is a believable one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and 0 < seconds <= MAX_INTERVAL else None


class ExporterSource:
    """One or more exporters, each read at ``URL/status``."""

    def __init__(self, urls: Sequence[str], fetcher: Fetcher, allow_missing: bool) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.fetcher = fetcher
        self.allow_missing = allow_missing

    def describe(self) -> str:
        return ", ".join(redact_url(url) for url in self.urls)

    def read(self) -> list[SiteState]:
        sites = []
        for url in self.urls:
            try:
                sites.append(self._read_one(url))
            except SourceUnreachable as error:
                if not self.allow_missing:
                    raise
                name = redact_url(url)
                sites.append(SiteState(site=name, status=None, missing_reason=str(error)))
        return sites

    def _read_one(self, url: str) -> SiteState:
        document, code = self.fetcher.get_json(f"{url}/status")
        return exporter_site(document, code, redact_url(url))


def exporter_site(document: Any, code: int, url: str) -> SiteState:
    """The site an exporter's ``/status`` document describes; ``SourceUnreachable`` if it is
    not one."""
    if code != 200 or not isinstance(document, dict):
        raise SourceUnreachable(f"{url}/status: HTTP {code}, not a site-status document")
    site, probes = document.get("site"), document.get("probes")
    if not isinstance(site, dict) or not isinstance(probes, list) or "code" not in document:
        raise SourceUnreachable(f"{url}/status: not a site-status document (site, probes, code)")
    listed = [probe for probe in probes if isinstance(probe, dict)]
    states = [
        GateProbe(
            name=_text(probe.get("name"), "?"),
            status=_status(probe.get("code")),
            summary=_text(probe.get("summary")),
            interval_seconds=_interval(probe.get("interval_seconds")),
        )
        for probe in listed
    ]
    # "No result yet" (the exporter has just started) is no verdict: the gate may wait for it.
    pending = [
        state
        for state, probe in zip(states, listed, strict=True)
        if probe.get("reason") == "pending"
    ]
    freeze = document.get("freeze")
    return SiteState(
        site=_text(site.get("name"), url) or url,
        status=_status(document.get("code")),
        maintenance=document.get("maintenance") is True,
        labels=_site_labels({key: _text(site.get(key)) for key in (*SITE_LABELS, "cluster")}),
        failing=worst_first([probe for probe in states if probe.status is not Status.OK]),
        pending=tuple(pending),
        freeze=_freeze_seen(freeze) if isinstance(freeze, dict) else None,
    )


def _freeze_seen(document: dict[str, Any]) -> FreezeSeen:
    return FreezeSeen(
        since=_text(document.get("since"), "?") or "?",
        reason=_text(document.get("reason"), "frozen") or "frozen",
        by=_text(document.get("by")),
    )


def _since_text(value: str) -> str:
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return "?"


def joined(metric: str, info: str) -> str:
    """``metric`` of each exporter, with its site's labels, for the exporters whose site_info
    is ``info``: joined on who published both."""
    return f"{metric} * on({', '.join(IDENTITY)}) group_left({', '.join(SITE_LABELS)}) {info}"


class PrometheusSource:
    """Many sites through Prometheus: each exporter's rollup joined with its site info.

    A site that had a site_info series within ``lookback`` but has none now (its exporter is
    down, or its series went stale) is *missing*. A site's status is the worst of its exporters
    that are not in maintenance; it is excused for maintenance only when every exporter that
    publishes it says so."""

    def __init__(
        self, url: str, matchers: tuple[Matcher, ...], fetcher: Fetcher, lookback: float
    ) -> None:
        self.url = url.rstrip("/")
        self.info = selector("site_status_site_info", matchers)
        self.matchers = matchers
        self.fetcher = fetcher
        self.lookback = lookback

    def describe(self) -> str:
        return f"{redact_url(self.url)} {describe(self.matchers)}"

    def query(self, expr: str) -> list[tuple[dict[str, str], str]]:
        """The instant vector ``expr`` evaluates to: each sample's labels and value."""
        data = answer_data(self.fetcher, self.url, "/api/v1/query", {"query": expr})
        return vector_samples(data, redact_url(self.url))

    def read(self) -> list[SiteState]:
        return self.read_matching(self.matchers)

    def read_matching(self, matchers: tuple[Matcher, ...]) -> list[SiteState]:
        info = selector("site_status_site_info", matchers)
        rollups = self.query(joined("site_status_site_status", info))
        maintenance = self.query(joined("(site_status_maintenance == 1)", info))
        failing = self.query(joined("(site_status_probe_status > 0)", info))
        lookback = f"{round(self.lookback * 1000)}ms"
        known = self.query(f"last_over_time({info}[{lookback}])")
        frozen = self.query(joined("site_status_frozen_since_timestamp_seconds", info))
        reasons = self.query(joined("site_status_freeze_info", info))
        sites = prometheus_sites(
            rollups, maintenance, failing, known, format_duration(self.lookback)
        )
        return with_freezes(sites, frozen, reasons)


def with_freezes(
    sites: list[SiteState],
    frozen: list[tuple[dict[str, str], str]],
    reasons: list[tuple[dict[str, str], str]],
) -> list[SiteState]:
    """The sites with their freezes (one exporter of a site that says frozen freezes it) and
    the namespace their exporter runs in (the scrape's label: where a freeze is set)."""
    reason_of = {_identity(labels): _text(labels.get("reason"), "frozen") for labels, _ in reasons}
    freeze_of: dict[SiteKey, FreezeSeen] = {}
    namespace_of: dict[SiteKey, str] = {}
    for labels, value in frozen:
        reason = reason_of.get(_identity(labels), "frozen")
        freeze_of.setdefault(_site_key(labels), FreezeSeen(_since_text(value), reason))
    for labels, _ in [*frozen, *reasons]:
        namespace_of.setdefault(_site_key(labels), labels.get("namespace", ""))
    return [
        dataclasses.replace(
            site,
            freeze=freeze_of.get(key := (site.labels.get("cluster", ""), site.site)),
            namespace=site.namespace or namespace_of.get(key, ""),
        )
        for site in sites
    ]


def _identity(labels: Mapping[str, str]) -> Identity:
    return tuple(labels.get(key, "") for key in IDENTITY)


def _site_key(labels: Mapping[str, str]) -> SiteKey:
    return labels.get("cluster", ""), labels.get("site", "")


def _site_labels(labels: Mapping[str, str]) -> dict[str, str]:
    common = {key: labels.get(key, "") for key in SITE_LABELS[1:]}
    if labels.get("cluster"):
        common["cluster"] = labels["cluster"]
    return common


def prometheus_sites(
    rollups: list[tuple[dict[str, str], str]],
    maintenance: list[tuple[dict[str, str], str]],
    failing: list[tuple[dict[str, str], str]],
    known: list[tuple[dict[str, str], str]],
    lookback: str,
) -> list[SiteState]:
    """Sites from the four answers, each exporter's data kept to the exporter that sent it."""
    exporters: dict[SiteKey, dict[Identity, Status]] = {}
    labels_of: dict[SiteKey, dict[str, str]] = {}
    for labels, _ in known:
        labels_of.setdefault(_site_key(labels), labels)
    for labels, value in rollups:
        site = _site_key(labels)
        exporters.setdefault(site, {})[_identity(labels)] = _status(value)
        labels_of.setdefault(site, labels)
    in_maintenance = {_identity(labels) for labels, _ in maintenance}
    probes: dict[Identity, list[GateProbe]] = {}
    for labels, value in failing:
        probe = GateProbe(_text(labels.get("probe"), "?"), _status(value))
        probes.setdefault(_identity(labels), []).append(probe)
    sites = []
    for key in sorted(labels_of):
        name = key[1]
        common = _site_labels(labels_of[key])
        current = exporters.get(key)
        if not current:
            reason = f"no current data (seen within {lookback}; exporter down?)"
            sites.append(SiteState(name, None, labels=common, missing_reason=reason))
            continue
        working = [identity for identity in current if identity not in in_maintenance]
        counted = working or list(current)
        worst_of: dict[str, GateProbe] = {}
        for identity in counted:
            for probe in probes.get(identity, []):
                seen = worst_of.get(probe.name)
                if seen is None or probe.status.worse_than(seen.status):
                    worst_of[probe.name] = probe
        sites.append(
            SiteState(
                site=name,
                status=worst(current[identity] for identity in counted),
                maintenance=not working,
                labels=common,
                failing=worst_first(list(worst_of.values())),
                namespace=labels_of[key].get("namespace", ""),
            )
        )
    return sites
