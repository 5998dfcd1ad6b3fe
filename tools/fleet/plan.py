"""What the fleet is (sites, tiers, profiles, shared dependency) and the scripted day it plays.

Everything is deterministic from the number of sites and the compression factor, so a run can be
repeated and its figures compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TIERS = ("priprod", "flexprod", "besteffort")
#: Production timings the compression divides (seconds). The exporter's default probe interval,
#: the drupal probe's documented 5 minutes, the ServiceMonitor's 30 s scrape, a 30 s rule
#: evaluation (prometheus-operator's default), the reports' 5-minute snapshot, Prometheus'
#: 1-minute alert resend delay, and one Drupal bootstrap of 1 s CPU (DESIGN: 1-3 s).
PRODUCTION_PROBE_INTERVAL = 60.0
PRODUCTION_DRUPAL_INTERVAL = 300.0
PRODUCTION_SCRAPE_INTERVAL = 30.0
PRODUCTION_EVALUATION_INTERVAL = 30.0
PRODUCTION_SNAPSHOT_INTERVAL = 300.0
PRODUCTION_RESEND_DELAY = 60.0
PRODUCTION_DRUSH_CPU_SECONDS = 1.0
SHARED_DEPENDENCY = "db-shared"
#: The shortest scrape interval (and so scrape timeout) of a compressed run: a Python exporter
#: on a saturated machine misses one-second scrapes often enough that a warning shared by
#: exactly ``shared_min_sites`` sites never stays counted for its ``for`` (a failed scrape makes
#: a target's series stale until the next one).
SCRAPE_FLOOR = 2.0


@dataclass(frozen=True)
class Site:
    index: int
    name: str
    tier: str
    profile: str  # "drupal" (drupal probe through drush) or "service" (two HTTP endpoints)
    shared: bool  # depends on the shared database
    drupal_warning: bool  # its status report lists a warning (contrib updates)


def fleet(count: int) -> list[Site]:
    """``count`` sites: 30 % priprod, 40 % flexprod, 30 % besteffort; 3 in 4 Drupal sites;
    40 % (exactly, for a multiple of 5) spread over the fleet depend on the shared database."""
    tiers = (
        *("priprod", "flexprod", "besteffort", "priprod", "flexprod"),
        *("besteffort", "priprod", "flexprod", "besteffort", "flexprod"),
    )
    sites = []
    for n in range(count):
        profile = "service" if n % 4 == 3 else "drupal"
        # 2 of every 5 consecutive sites, the pair shifting every 10 so that every tier and
        # profile has its share.
        shared = (n + n // 10) % 5 in (0, 2)
        tier = tiers[n % len(tiers)]
        warning = profile == "drupal" and tier == "besteffort" and n % 20 == 2
        prefix = "web" if profile == "drupal" else "api"
        sites.append(Site(n, f"{prefix}-{n:03d}", tier, profile, shared, warning))
    return sites


#: The simulated nodes the exporters report (``exporter.node``); the load is the machine's, so
#: both are loaded: SiteStatusLoadHigh once per node.
NODES = ("fleet-node-a", "fleet-node-b")


def node_of(site: Site) -> str:
    return NODES[site.index % len(NODES)]


def release_sites(sites: list[Site]) -> tuple[str, ...]:
    """40 % of the fleet (Drupal sites, 3 in 4 of all): a contrib release warns them at once.
    Taken tier by tier, the tier with most Drupal sites first, as a release reaches one
    platform profile: few tiers, each with enough sites to share the cause. Within a tier, sites
    outside the shared database first, so that a small fleet can play both scenes at once."""
    drupal = [s for s in sites if s.profile == "drupal"]
    per_tier = {tier: sum(1 for s in drupal if s.tier == tier) for tier in TIERS}
    ranked = sorted(
        drupal, key=lambda s: (-per_tier[s.tier], TIERS.index(s.tier), s.shared, s.index)
    )
    return tuple(s.name for s in ranked[: max(1, round(0.4 * len(sites)))])


@dataclass(frozen=True)
class Timing:
    """The run's timings: production ones divided by ``compression`` (with floors)."""

    compression: float
    probe_interval: float
    drupal_interval: float
    scrape_interval: float
    evaluation_interval: float
    snapshot_interval: float
    resend_delay: float
    drush_cpu_seconds: float

    @classmethod
    def compressed(cls, compression: float) -> Timing:
        def scaled(production: float, floor: float) -> float:
            return max(floor, production / compression)

        return cls(
            compression=compression,
            probe_interval=scaled(PRODUCTION_PROBE_INTERVAL, 1.0),
            drupal_interval=scaled(PRODUCTION_DRUPAL_INTERVAL, 3.0),
            scrape_interval=scaled(PRODUCTION_SCRAPE_INTERVAL, SCRAPE_FLOOR),
            evaluation_interval=scaled(PRODUCTION_EVALUATION_INTERVAL, 1.0),
            snapshot_interval=scaled(PRODUCTION_SNAPSHOT_INTERVAL, 5.0),
            resend_delay=scaled(PRODUCTION_RESEND_DELAY, 1.0),
            drush_cpu_seconds=PRODUCTION_DRUSH_CPU_SECONDS / compression,
        )


@dataclass(frozen=True)
class Scene:
    """One incident of the day: failures injected at ``start``, removed at ``recover`` (if they
    are), and the scene over at ``end`` (offsets in seconds from the start of the day)."""

    name: str
    clock: str  # the simulated time of day it stands for
    title: str
    start: float
    recover: float | None
    end: float
    sites: tuple[str, ...]
    expect: str  # what the routing should do, for the report

    def contains(self, offset: float) -> bool:
        return self.start <= offset < self.end


@dataclass(frozen=True)
class Roles:
    lone: str
    shared: tuple[str, ...]
    maintenance: tuple[str, ...]
    flap: str
    dies: str
    night: tuple[str, ...]  # one priprod, one flexprod, one besteffort
    release: tuple[str, ...] = ()  # 40 % of the sites: the same Drupal warning at once
    #: Sites retired on purpose: the first ``RETIRE_DELETED`` by deleting their namespace, the
    #: others by scaling every workload to zero (``k8s/new-site.py --retire``).
    retire: tuple[str, ...] = ()


RETIRED_SITES = 5
RETIRE_DELETED = 2


def retire_sites(sites: list[Site], busy: set[str]) -> tuple[str, ...]:
    """5 sites no later scene needs: 3 priprod and 2 flexprod when there are (so that, were they
    counted, they would make a fleet alert), topped up from the others in tier order."""
    free = [s for s in sites if s.name not in busy]
    wanted = [s for s in free if s.tier == "priprod"][:3]
    wanted += [s for s in free if s.tier == "flexprod"][:2]
    rest = sorted((s for s in free if s not in wanted), key=lambda s: TIERS.index(s.tier))
    chosen = (wanted + rest)[:RETIRED_SITES]
    return tuple(s.name for s in sorted(chosen, key=lambda s: s.index))


def retire_how(cast: Roles) -> dict[str, str]:
    """Each retired site's way out: ``delete`` (its namespace, Terminating first) or ``scale``."""
    return {name: "delete" if n < RETIRE_DELETED else "scale" for n, name in enumerate(cast.retire)}


def roles(sites: list[Site]) -> Roles:
    """Who does what: incident sites are taken from those outside the shared dependency;
    with few sites a site may play in two scenes (they never overlap in time)."""
    alone = [s for s in sites if not s.shared]
    by_tier = {tier: [s.name for s in alone if s.tier == tier] for tier in TIERS}
    for tier in TIERS:
        if not by_tier[tier]:  # a tiny fleet: borrow from the shared sites
            by_tier[tier] = [s.name for s in sites if s.tier == tier]
    pri, flex, best = by_tier["priprod"], by_tier["flexprod"], by_tier["besteffort"]

    def pick(names: list[str], n: int) -> str:
        return names[n % len(names)]

    maintenance_count = max(1, len(sites) // 40)
    dies = pick(pri, 1)
    # The night's priprod site must have a live exporter: never the one that died.
    living = [name for name in pri if name != dies] or [
        s.name for s in sites if s.tier == "priprod" and s.name != dies
    ]
    night = (pick(living, 1), pick(flex, 1), pick(best, 0))
    return Roles(
        lone=pick(pri, 0),
        shared=tuple(s.name for s in sites if s.shared),
        maintenance=tuple(pick(pri, 3 + k) for k in range(maintenance_count)),
        flap=pick(flex, 0),
        dies=dies,
        night=night,
        release=release_sites(sites),
        # Retired before the dies and night scenes, which need their sites alive.
        retire=retire_sites(sites, {dies, *night}),
    )


@dataclass(frozen=True)
class Day:
    scenes: tuple[Scene, ...]
    warmup: float
    failure: float  # how long an injected failure lasts
    settle: float  # after recovery, until the next scene
    flap_half_period: float

    @property
    def length(self) -> float:
        return self.scenes[-1].end

    def scene(self, name: str) -> Scene:
        return next(s for s in self.scenes if s.name == name)


@dataclass(frozen=True)
class Durations:
    """The compressed ``for`` and group timings the scene lengths are derived from."""

    site_critical_for: float
    exporter_down_for: float
    group_wait: float
    group_interval: float
    shared_warning_for: float = 0.0
    exporter_absent_for: float = 0.0


#: The compact day's blocks: the scenes of a block start together (their sites must differ and
#: make no fleet incident together), a block ends when its longest scene has settled. The flap
#: (nothing to check: it must not page, which nothing else in its block may either) is left out.
COMPACT_BLOCKS = (
    ("lone", "maintenance", "shared", "release"),
    ("retire", "dies"),  # after the scenes that need the retired sites
    ("night",),  # alone: it reloads the routing
)


def day(timing: Timing, durations: Durations, cast: Roles, *, compact: bool = False) -> Day:
    """The scenes, each long enough for its alerts to fire (``for`` plus the probe, scrape,
    evaluation and group wait) and, after recovery, to be resolved (a group interval).

    One after the other; ``compact`` (the smoke test's short day) plays the scenes of each of
    ``COMPACT_BLOCKS`` at once instead, for a small fleet whose scenes use different sites."""
    detect = (
        durations.site_critical_for
        + 2 * timing.probe_interval
        + 2 * timing.scrape_interval
        + 2 * timing.evaluation_interval
        + durations.group_wait
    )
    failure = math.ceil(1.5 * detect + 4)
    settle = math.ceil(
        durations.group_interval
        + 2 * timing.probe_interval
        + 2 * timing.scrape_interval
        + timing.evaluation_interval
        + 4
    )
    down_detect = durations.exporter_down_for + 3 * timing.scrape_interval + durations.group_wait
    warn_detect = (
        durations.shared_warning_for
        + 2 * timing.drupal_interval
        + 2 * timing.scrape_interval
        + 2 * timing.evaluation_interval
        + durations.group_wait
    )
    # Were the retired sites not recognised, the longest of their alerts (the exporter absent)
    # would fire this long after kube-state-metrics' change: seen (scrape, evaluation), the
    # exporters stopped and their targets gone (two scrapes), ``for``, evaluation, group wait.
    retire_detect = (
        max(durations.exporter_absent_for, durations.exporter_down_for, detect)
        + 4 * timing.scrape_interval
        + 3 * timing.evaluation_interval
        + durations.group_wait
    )
    warmup = math.ceil(max(2 * timing.drupal_interval, 6 * timing.probe_interval, 15))
    flap_half = max(timing.probe_interval * 2, durations.site_critical_for / 2.5)
    # name: (clock, title, sites, expect, how long its failure lasts, repaired?)
    specs: dict[str, tuple[str, str, tuple[str, ...], str, float, bool]] = {
        "lone": ("08:30", f"{cast.lone}'s healthz fails", (cast.lone,), "one page", failure, True),
        "shared": (
            "10:00",
            f"the shared database fails for {len(cast.shared)} sites",
            cast.shared,
            "at most 3 pages",
            failure,
            True,
        ),
        "maintenance": (
            "13:00",
            f"{len(cast.maintenance)} sites fail inside their maintenance windows",
            cast.maintenance,
            "no page",
            failure,
            True,
        ),
        "flap": (
            "14:00",
            f"{cast.flap}'s healthz flaps (fails {flap_half:g} s, recovers {flap_half:g} s)",
            (cast.flap,),
            "report",
            failure,
            True,
        ),
        "release": (
            "14:30",
            f"a contrib release: {len(cast.release)} Drupal sites warn update_contrib at once",
            cast.release,
            "at most 3 notifications",
            math.ceil(1.5 * warn_detect + 4),
            True,
        ),
        "retire": (
            "14:45",
            f"{len(cast.retire)} sites are retired (namespace deleted or scaled to zero)",
            cast.retire,
            "no page, no fleet alert",
            math.ceil(1.5 * retire_detect + 4),
            False,
        ),
        "dies": (
            "15:00",
            f"{cast.dies}'s exporter is killed",
            (cast.dies,),
            "one page",
            math.ceil(1.5 * down_detect + 4),
            False,
        ),
        "night": (
            "02:00",
            "at night, one priprod, one flexprod and one besteffort site fail",
            cast.night,
            "the priprod site paged, the others not",
            failure,
            False,
        ),
    }
    blocks = COMPACT_BLOCKS if compact else tuple((name,) for name in specs)
    scenes: list[Scene] = []
    at = float(warmup)
    for block in blocks:
        taken = [site for name in block for site in specs[name][2]]
        if len(taken) != len(set(taken)):
            raise ValueError(f"the scenes {block} share a site: they cannot play at once")
        repaired = [specs[name][4] for name in block if specs[name][5]]
        # Repaired scenes settle after their repair; the others last their whole length.
        end = at + max(
            [lasts + settle for lasts in repaired]
            + [specs[name][4] for name in block if not specs[name][5]]
        )
        for name in block:
            clock, title, sites, expect, lasts, repairs = specs[name]
            recover = at + lasts if repairs else None
            scenes.append(Scene(name, clock, title, at, recover, end, sites, expect))
        at = end
    return Day(tuple(scenes), float(warmup), float(failure), float(settle), flap_half)


@dataclass
class Plan:
    sites: list[Site]
    timing: Timing
    cast: Roles
    day: Day
    calibration: list[Site] = field(default_factory=list)

    def site(self, name: str) -> Site:
        return next(s for s in [*self.sites, *self.calibration] if s.name == name)
