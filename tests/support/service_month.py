"""A known month for a fleet in a real Prometheus, for ``site-status report``.

Each site is a function from a minute (epoch seconds) to what its exporter published that
minute (``Published``), or None where Prometheus has nothing (the site did not exist yet, or
Prometheus itself was down). ``write_blocks`` writes those samples, one a minute, as OpenMetrics
files of one 2-hour block each (``promtool tsdb create-blocks-from openmetrics`` reads its whole
input once per block: one file a block keeps that linear) and backfills them.

``seen_at`` is the test's own reading of the same samples, as Prometheus' instant queries read
them (the latest sample at most 5 minutes old, docs of ``--query.lookback-delta``), written
independently of the report's PromQL.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MINUTE = 60
BLOCK = 7200
LOOKBACK = 300


@dataclass(frozen=True)
class Published:
    """One minute of one exporter, as Prometheus stored it."""

    up: bool = True
    status: int = 0  # the rollup's Nagios code
    maintenance: int = 0
    #: Probe name -> its status code.
    probes: tuple[tuple[str, int], ...] = ()
    #: (probe, reason, part) of the probes that are not OK, as site_status_probe_reason has them.
    reasons: tuple[tuple[str, str, str], ...] = ()
    #: site_status_service_hours (1 inside the service hours, 0 outside); None: not published.
    service_hours: int | None = None


@dataclass
class FleetSite:
    labels: dict[str, str]  # site, environment, tier, profile
    minute: Callable[[int], Published | None]
    objectives: dict[str, float] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        return f"{self.labels['site']}.{self.labels['environment']}.example:9918"


def _labels(values: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in values.items())


def _families(site: FleetSite, start: int, end: int) -> dict[str, dict[str, list[str]]]:
    """Family -> series labels -> its sample lines in time order, for ``site`` in [start, end)."""
    target = {"job": "site-status", "instance": site.instance}
    plain = _labels(target)
    found: dict[str, dict[str, list[str]]] = {}

    def add(family: str, labels: str, t: int, value: float) -> None:
        found.setdefault(family, {}).setdefault(labels, []).append(f"{value:g} {t}\n")

    for t in range(start, end, MINUTE):
        published = site.minute(t)
        if published is None:
            continue
        add("up", plain, t, 1.0 if published.up else 0.0)
        if not published.up:
            continue
        add("site_status_site_info", _labels({**target, **site.labels}), t, 1.0)
        add("site_status_site_status", plain, t, published.status)
        add("site_status_maintenance", plain, t, published.maintenance)
        if published.service_hours is not None:
            add("site_status_service_hours", plain, t, published.service_hours)
        for probe, code in published.probes:
            add("site_status_probe_status", _probe(target, probe), t, code)
        codes = dict(published.probes)
        for probe, reason, part in published.reasons:
            labels = _probe(target, probe, reason=reason, part=part)
            add("site_status_probe_reason", labels, t, codes.get(probe, 2))
    # The objectives as the mixin's recording rules record them (one sample an hour is enough
    # for the report's last_over_time over the period).
    for sli, objective in site.objectives.items():
        for t in range(start - start % 3600 + (3600 if start % 3600 else 0), end, 3600):
            add(f"site_status_site:objective:{sli}", _labels(site.labels), t, objective)
    return found


def _probe(target: dict[str, str], probe: str, **more: str) -> str:
    return _labels({**target, "probe": probe, "kind": "http", **more})


def write_block_file(path: Path, sites: Sequence[FleetSite], start: int, end: int) -> bool:
    """One OpenMetrics file: each family once, each series' samples together in time order."""
    by_family: dict[str, list[tuple[str, list[str]]]] = {}
    for site in sites:
        for family, series in _families(site, start, end).items():
            by_family.setdefault(family, []).extend(series.items())
    if not by_family:
        return False
    with path.open("w") as out:
        for family, series_list in by_family.items():
            out.write(f"# TYPE {family} gauge\n")
            for labels, samples in series_list:
                prefix = f"{family}{{{labels}}} "
                out.writelines(prefix + sample for sample in samples)
        out.write("# EOF\n")
    return True


def write_blocks(
    workdir: Path, sites: Sequence[FleetSite], start: int, end: int, chunk: int = BLOCK
) -> Path:
    """Backfill [start, end) into ``workdir/prometheus-data``, one promtool run per ``chunk``
    seconds (a multiple of 2 h: each run reads its file once per block, plus once; a small
    fleet is quicker with a day a file, a large one needs one block a file)."""
    data = workdir / "prometheus-data"
    data.mkdir(parents=True, exist_ok=True)
    sources = workdir / "openmetrics"
    sources.mkdir(exist_ok=True)

    def one(block_start: int) -> None:
        path = sources / f"{block_start}.om"
        first, last = max(start, block_start), min(end, block_start + chunk)
        if write_block_file(path, sites, first, last):
            command = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path)]
            subprocess.run([*command, str(data)], check=True, capture_output=True)
            path.unlink()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, range(start - start % chunk, end, chunk)))
    return data


def seen_at(site: FleetSite, t: int) -> Published | None:
    """What an instant query at ``t`` sees of ``site``: the newest minute with samples at most
    5 minutes old (the samples of one minute are written together), or nothing."""
    for back in range(0, LOOKBACK + 1, MINUTE):
        published = site.minute(t - back)
        if published is not None:
            return published
    return None


#: Backfilled months kept between test runs: promtool writes a block per 2 hours of data at
#: about 60 ms of CPU each, so a month costs 20-25 s of CPU every run otherwise.
CACHE = Path(os.environ.get("SITE_STATUS_TEST_CACHE", "/var/tmp/site-status-test-cache"))


def cached_blocks(
    workdir: Path,
    name: str,
    defined_by: Sequence[Path],
    sites: Sequence[FleetSite],
    start: int,
    end: int,
    chunk: int = BLOCK,
) -> Path:
    """``write_blocks``' TSDB in ``workdir/prometheus-data``, copied from the cache when one was
    built from the same ``defined_by`` files (the fleet's events and this module), span and
    promtool; built and kept there otherwise."""
    key = hashlib.sha256(f"{start} {end} {chunk}\n".encode())
    key.update(subprocess.run(["promtool", "--version"], capture_output=True).stdout)
    for path in (Path(__file__), *defined_by):
        key.update(path.read_bytes())
    kept = CACHE / f"{name}-{key.hexdigest()[:20]}"
    if not (kept / "complete").exists():
        building = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=_made(CACHE)))
        write_blocks(building, sites, start, end, chunk)
        (building / "complete").touch()
        try:
            building.rename(kept)
        except OSError:  # another run kept it first
            shutil.rmtree(building, ignore_errors=True)
    data = workdir / "prometheus-data"
    shutil.copytree(kept / "prometheus-data", data)
    return data


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
