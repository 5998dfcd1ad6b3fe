"""Right after a deploy an exporter's probes have no result yet, and their UNKNOWN "no result
yet" is no verdict on the rollout: the one-shot gate waits for their first results, within a
bound (``--wait-first-result``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from exporter.gate.model import SiteState
from exporter.gate.sources import Source
from exporter.units import format_duration

#: ``auto`` waits at most this long, whatever the probes' intervals.
AUTO_LIMIT = 600.0
#: How often the source is read while waiting.
WAIT_POLL = 1.0


def auto_wait(sites: Sequence[SiteState]) -> float:
    """Twice the longest interval of the waiting probes: a probe's first run starts within its
    jitter (at most one interval) and ends within its timeout (at most one interval)."""
    intervals = [
        float(probe.interval_seconds)
        for site in sites
        for probe in site.pending
        if isinstance(probe.interval_seconds, int | float)
    ]
    return min(AUTO_LIMIT, 2 * max(intervals, default=AUTO_LIMIT / 2))


def read_with_first_results(
    source: Source,
    wait: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    err: TextIO,
) -> list[SiteState]:
    """The sites once no probe is waiting for its first result, or when ``wait`` (None: auto)
    has passed: a probe still without one then counts as the UNKNOWN it is."""
    start = clock()
    sites = source.read()
    limit = auto_wait(sites) if wait is None else wait
    said = False
    while any(site.pending for site in sites) and clock() - start < limit:
        if not said:
            waiting = ", ".join(
                f"{site.site} ({len(site.pending)} probe(s))" for site in sites if site.pending
            )
            err.write(f"waiting up to {format_duration(limit)} for first results: {waiting}\n")
            err.flush()
            said = True
        sleep(min(WAIT_POLL, max(0.0, limit - (clock() - start))))
        sites = source.read()
    return sites
