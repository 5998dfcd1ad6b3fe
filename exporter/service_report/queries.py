"""The PromQL of the report: each exporter's state per minute, as the recording rules define it
(docs/alerts.md, "Availability and reliability").

Per exporter (scrape target): *known* is scraped (``up == 1``) with a rollup other than
UNKNOWN; *down* is known and CRITICAL; *in maintenance* is known inside a declared window. The
queries evaluated every minute of a month stay on each exporter's own series: no join with the
site info per minute (at 200 sites a join each step costs more than everything else). Which
site an exporter belongs to is asked once (``targets``) and applied in Python; ``--match`` is
applied there too. Like the recording rules, a site with several exporters (replicas) sums their
minutes. Targets are told apart by cluster (absent on one Prometheus), job and instance.
"""

from __future__ import annotations

import json

SITE_LABELS = ("site", "environment", "tier", "profile")
SITE_KEY = ("cluster", *SITE_LABELS)
TARGET_KEY = ("cluster", "job", "instance")
#: Codes of an exporter's minute that is not simply up: down outside maintenance (an incident
#: minute), up inside a maintenance window, down inside one (from the two sparse answers).
DOWN, MAINTENANCE_UP, MAINTENANCE_DOWN = 1, 2, 3

STATUS = "site_status_site_status"

#: The minutes an exporter's rollup is seen are counted in pieces of at most a day, asked at
#: once: a subquery over a month holds every point of it in memory at once, and took 3 times as
#: long as the pieces.
KNOWN_PIECE_MINUTES = 1440


def status_minutes(seconds: int) -> str:
    """Per exporter, the minutes its rollup is seen (any code) in the ``seconds`` up to the query
    time, both ends included (a subquery sampled every minute on the minute, as the range
    queries' steps). A plain selector: a filter or a match inside the subquery cost 5 to 12
    times as much (docs/benchmarks.md). The known minutes are these less the UNKNOWN ones and
    the ones not scraped (collect.py)."""
    return f"count_over_time({STATUS}[{seconds}s:1m])"


#: Per exporter, the minutes it was CRITICAL or UNKNOWN (the value says which), inside a
#: maintenance window, and not scraped: each a plain selector with a filter, answered only
#: where it holds (small), and combined per minute in Python (collect.py): a match between two
#: series at each of a month's minutes costs more than all of them.
CRITICAL, UNKNOWN = 2, 3
NOT_UP_MINUTES = f"{STATUS} >= {CRITICAL}"
MAINTENANCE_MINUTES = "site_status_maintenance == 1"
#: Outside the site's service hours (docs/alerts.md, "Service hours"): not counted at all. An
#: exporter without the gauge is served every hour, as the recording rules have it.
OUTSIDE_SERVICE_MINUTES = "site_status_service_hours == 0"
NOT_SCRAPED_MINUTES = "up == 0"


def _of_target(metric: str, target: dict[str, str], *more: str) -> str:
    """``metric`` of one exporter (``cluster=""`` matches a series without the label)."""
    quoted = (f"{n}={json.dumps(target.get(n, ''), ensure_ascii=False)}" for n in TARGET_KEY)
    return f"{metric}{{{', '.join((*more, *quoted))}}}"


def status_not_unknown(target: dict[str, str]) -> str:
    """One exporter's rollup where it is not UNKNOWN: asked only over its minutes not scraped,
    where Prometheus may still see the rollup of the scrape before (its lookback)."""
    return f"{_of_target(STATUS, target)} != {UNKNOWN}"


#: The probes' statuses and their bounded reasons, where the exporter publishes them
#: (site_status_probe_reason, docs/reasons.md; value: the probe's status code).
PROBE_STATUS, PROBE_REASON = "site_status_probe_status", "site_status_probe_reason"


def critical_probes(target: dict[str, str]) -> str:
    """One exporter's CRITICAL probes and their reasons (one selector for both: half the
    requests), asked only around its minutes down, so that the fleet's probes are not read for
    a whole month. The filter keeps the metric name: it tells the two apart."""
    both = f'__name__=~"{PROBE_STATUS}|{PROBE_REASON}"'
    return f"{_of_target('', target, both)} == {CRITICAL}"


def targets(info: str, seconds: int) -> str:
    """Every exporter whose site info matched in the ``seconds`` up to the query time, with its
    site's labels (``info``: site_status_site_info with the ``--match`` matchers)."""
    return f"last_over_time({info}[{seconds}s])"


def objective(sli: str, seconds: int) -> str:
    by = f"by ({', '.join(SITE_KEY)})"
    return f"max {by} (last_over_time(site_status_site:objective:{sli}[{seconds}s]))"
