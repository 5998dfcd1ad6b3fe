"""Where the gate reads site status: exporters' ``/status``, or Prometheus' query API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from exporter.gate.model import (
    GateProbe,
    SiteState,
    SourceRejected,
    SourceUnreachable,
    worst_first,
)
from exporter.status import Status

SITE_LABELS = ("site", "environment", "tier", "profile")


class Source(Protocol):
    def read(self) -> list[SiteState]: ...

    def describe(self) -> str: ...


def _status(value: object) -> Status:
    """A Nagios code as a status; anything else (NaN, garbage) is UNKNOWN."""
    try:
        return Status(int(float(str(value))))
    except (TypeError, ValueError, OverflowError):
        return Status.UNKNOWN


def _get_json(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> Any:
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as error:
        raise SourceUnreachable(f"cannot reach {url}: {error or type(error).__name__}") from None
    try:
        document = response.json()
    except ValueError:
        raise SourceUnreachable(f"{url}: HTTP {response.status_code}, not JSON") from None
    return document, response.status_code


class ExporterSource:
    """One or more exporters, each read at ``URL/status``."""

    def __init__(self, urls: Sequence[str], client: httpx.Client, allow_missing: bool) -> None:
        self.urls = [url.rstrip("/") for url in urls]
        self.client = client
        self.allow_missing = allow_missing

    def describe(self) -> str:
        return ", ".join(self.urls)

    def read(self) -> list[SiteState]:
        sites = []
        for url in self.urls:
            try:
                sites.append(self._read_one(url))
            except SourceUnreachable as error:
                if not self.allow_missing:
                    raise
                sites.append(SiteState(site=url, status=None, missing_reason=str(error)))
        return sites

    def _read_one(self, url: str) -> SiteState:
        document, code = _get_json(self.client, f"{url}/status")
        if code != 200 or not isinstance(document, dict):
            raise SourceUnreachable(f"{url}/status: HTTP {code}, not a site-status document")
        site = document.get("site") or {}
        probes = [
            GateProbe(
                name=str(probe.get("name", "?")),
                status=_status(probe.get("code")),
                summary=str(probe.get("summary", "")),
                interval_seconds=probe.get("interval_seconds"),
            )
            for probe in document.get("probes", [])
            if isinstance(probe, dict)
        ]
        return SiteState(
            site=str(site.get("name", url)),
            status=_status(document.get("code")),
            maintenance=bool(document.get("maintenance")),
            labels={key: str(site.get(key, "")) for key in SITE_LABELS[1:]},
            failing=worst_first([probe for probe in probes if probe.status is not Status.OK]),
        )


def joined(metric: str, match: str) -> str:
    """``metric`` with the site's labels, for the sites whose site_info matches ``match``."""
    return (
        f"{metric} * on(job, instance) group_left({', '.join(SITE_LABELS)}) "
        f"site_status_site_info{{{match}}}"
    )


class PrometheusSource:
    """Many sites through Prometheus: the site rollup joined with the site info labels.

    A site that had a site_info series within ``lookback`` but has none now (its exporter is
    down, or its series went stale) is *missing*."""

    def __init__(self, url: str, match: str, client: httpx.Client, lookback: str) -> None:
        self.url = url.rstrip("/")
        self.match = match
        self.client = client
        self.lookback = lookback

    def describe(self) -> str:
        return f"{self.url} {{{self.match}}}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        document, code = _get_json(self.client, f"{self.url}/api/v1/query", {"query": expr})
        if not isinstance(document, dict):
            raise SourceUnreachable(f"{self.url}: HTTP {code}, not a Prometheus answer")
        if document.get("status") != "success":
            error = str(document.get("error", f"HTTP {code}"))
            if document.get("errorType") == "bad_data":
                raise SourceRejected(f"Prometheus refused the query: {error}")
            raise SourceUnreachable(f"{self.url}: {error}")
        result: list[dict[str, Any]] = document["data"]["result"]
        return result

    def read(self) -> list[SiteState]:
        status = self._by_site(joined("site_status_site_status", self.match))
        in_maintenance = {
            sample["metric"].get("site", "")
            for sample in self.query(joined("(site_status_maintenance == 1)", self.match))
        }
        failing: dict[str, list[GateProbe]] = {}
        for sample in self.query(joined("(site_status_probe_status > 0)", self.match)):
            labels = sample["metric"]
            probe = GateProbe(labels.get("probe", "?"), _status(sample["value"][1]))
            failing.setdefault(labels.get("site", ""), []).append(probe)
        known = self.query(
            f"last_over_time(site_status_site_info{{{self.match}}}[{self.lookback}])"
        )
        labels_of = {s["metric"].get("site", ""): s["metric"] for s in known}
        sites = []
        for name in sorted(set(labels_of) | set(status)):
            labels = labels_of.get(name) or status[name][1]
            common = {key: labels.get(key, "") for key in SITE_LABELS[1:]}
            if name not in status:
                reason = f"no current data (seen within {self.lookback}; exporter down?)"
                sites.append(SiteState(name, None, labels=common, missing_reason=reason))
                continue
            sites.append(
                SiteState(
                    site=name,
                    status=status[name][0],
                    maintenance=name in in_maintenance,
                    labels=common,
                    failing=worst_first(failing.get(name, [])),
                )
            )
        return sites

    def _by_site(self, expr: str) -> dict[str, tuple[Status, dict[str, str]]]:
        """Per site, the worst value over its exporters (replicas), and its labels."""
        found: dict[str, tuple[Status, dict[str, str]]] = {}
        for sample in self.query(expr):
            labels = sample["metric"]
            value = _status(sample["value"][1])
            site = labels.get("site", "")
            if site not in found or value.worse_than(found[site][0]):
                found[site] = (value, labels)
        return found
