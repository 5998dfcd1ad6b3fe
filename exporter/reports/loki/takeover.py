"""The shared spool of earlier versions, emptied site by site into each site's own spool.

Until the default spool directory was one per site (``loki-spool-<site>``), every exporter on a
machine that left ``spool.directory`` unset used ``loki-spool`` in the state directory. An
exporter that finds it takes out the pending reports of its own site (every record carries its
stream labels, ``site`` among them) and leaves the others there for their sites' exporters.

Order, so that a crash loses nothing: the site's records are appended to its own spool (fsynced)
first, then the shared spool is rewritten without them (one compacted segment, renamed into
place), or removed when nothing is left. A crash in between moves them again at the next start:
the same timestamps and lines, which Loki stores once. Exporters of several sites starting
together take turns on an exclusive lock of the directory. An exporter of an earlier version
still writing there is not waited for: it would have mixed the sites' files anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path

from exporter.reports.loki.spool import COMMITTED_FILE, Spool

log = logging.getLogger(__name__)


def take_over_site(shared: Path, spool: Spool, site: str) -> dict[str, int]:
    """Move the pending reports of ``site`` from ``shared`` into ``spool`` (open); return the
    last timestamps of the site's streams there."""
    try:
        fd = os.open(shared, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return {}
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(shared).st_ino != os.fstat(fd).st_ino:
                return {}  # another site's exporter emptied and removed it meanwhile
        except FileNotFoundError:
            return {}
        return _move(shared, spool, site)
    finally:
        os.close(fd)  # releases the lock


def _move(shared: Path, spool: Spool, site: str) -> dict[str, int]:
    old = Spool(shared, spool.max_bytes, spool.max_queue)
    clock = old.open()
    if old.disabled:
        return {}  # said in one line by the spool
    try:
        records = old.pending_records()
        mine = [r for r in records if r.entry.labels.get("site") == site]
        others = [r for r in records if r.entry.labels.get("site") != site]
        if mine:
            errors = spool.write_errors
            for reason, count in spool.append([record.entry for record in mine]).items():
                log.warning(
                    "report spool %s: %d report(s) dropped: %s", spool.directory, count, reason
                )
            if spool.disabled or spool.write_errors > errors:
                log.error(
                    "report spool %s: could not take over the %d report(s) of site %s in the "
                    "shared spool %s; they stay there for the next start",
                    spool.directory,
                    len(mine),
                    site,
                    shared,
                )
                return {}
        # Files it could not read may hold other sites' reports: then the directory stays.
        emptied = not others and not old.left_alone
        if mine and not emptied:
            old.replace_pending(others)
    finally:
        old.close()
    if emptied:
        _remove(shared)
    if mine or emptied:
        log.info(
            "report spool %s: took over %d report(s) of site %s from the shared spool %s, %s",
            spool.directory,
            len(mine),
            site,
            shared,
            "now removed" if emptied else f"{len(others)} of other sites left there for them",
        )
    # Stream keys list their labels sorted: ``site`` is between ``report_type`` and ``tier``.
    own = f',site="{site}",'
    return {stream: stamp for stream, stamp in clock.items() if own in stream}


def _remove(shared: Path) -> None:
    """The emptied shared spool; what cannot be removed stays (the spool named it)."""
    for path in shared.iterdir():
        if path.name == COMMITTED_FILE or path.name.startswith("segment-"):
            with contextlib.suppress(OSError):
                path.unlink()
    with contextlib.suppress(OSError):
        shared.rmdir()
