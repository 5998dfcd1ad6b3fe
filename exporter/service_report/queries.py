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

SITE_LABELS = ("site", "environment", "tier", "profile")
SITE_KEY = ("cluster", *SITE_LABELS)
TARGET_KEY = ("cluster", "job", "instance")
ON_TARGET = f"on({', '.join(TARGET_KEY)})"

#: Codes of an exporter's minute that is not simply up: down outside maintenance (an incident
#: minute), up inside a maintenance window, down inside one (from the two sparse answers).
DOWN, MAINTENANCE_UP, MAINTENANCE_DOWN = 1, 2, 3

STATUS = "site_status_site_status"
#: "Scraped": an exporter's series and its ``up`` come from the same scrape, so "not where
#: ``up == 0``" is "where ``up == 1``"; written this way the right-hand side is empty at almost
#: every step, and the match costs nothing (at 200 sites, ``and up == 1`` doubled the time).
SCRAPED = f"unless {ON_TARGET} up == 0"

#: The known minutes are counted in pieces of at most a day, asked at once: a subquery over a
#: month holds every point of it in memory at once, and took 3 times as long as the pieces.
KNOWN_PIECE_MINUTES = 1440


def known_minutes(seconds: int) -> str:
    """Per exporter, the minutes known in the ``seconds`` up to the query time, both ends
    included (a subquery sampled every minute on the minute, as the range queries' steps)."""
    return f"count_over_time(({STATUS} != 3 {SCRAPED})[{seconds}s:1m])"


#: Per exporter, the minutes it was CRITICAL, inside a maintenance window, UNKNOWN, and not
#: scraped: each a plain selector with a filter, answered only where it holds (small), and
#: combined per minute in Python (collect.py): a match between two series at each of a month's
#: minutes costs more than all four.
CRITICAL_MINUTES = f"{STATUS} == 2"
MAINTENANCE_MINUTES = "site_status_maintenance == 1"
UNKNOWN_MINUTES = f"{STATUS} == 3"
NOT_SCRAPED_MINUTES = "up == 0"

#: The CRITICAL probes of each exporter, minute by minute.
CRITICAL_PROBES = "site_status_probe_status == 2"

#: Their bounded reasons, where the exporter publishes them (site_status_probe_reason,
#: docs/reasons.md); value: the probe's status code.
PROBE_REASONS = "site_status_probe_reason == 2"


def targets(info: str, seconds: int) -> str:
    """Every exporter whose site info matched in the ``seconds`` up to the query time, with its
    site's labels (``info``: site_status_site_info with the ``--match`` matchers)."""
    return f"last_over_time({info}[{seconds}s])"


def objective(sli: str, seconds: int) -> str:
    by = f"by ({', '.join(SITE_KEY)})"
    return f"max {by} (last_over_time(site_status_site:objective:{sli}[{seconds}s]))"
