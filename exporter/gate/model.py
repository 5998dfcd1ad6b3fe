"""What the gate reads of a site, whichever the source."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.status import Status


@dataclass(frozen=True)
class GateProbe:
    name: str
    status: Status
    #: The probe's one-line why; empty where the source has none (Prometheus).
    summary: str = ""
    interval_seconds: float | None = None


@dataclass(frozen=True)
class FreezeSeen:
    """A site's deploy freeze as its source reports it (exporter/freeze.py)."""

    since: str
    reason: str
    by: str = ""

    def words(self) -> str:
        by = f" by {self.by}" if self.by else ""
        return f"frozen since {self.since}{by}: {self.reason}"


@dataclass(frozen=True)
class SiteState:
    """One site as its source sees it now. ``status`` is None for a site that is known but has
    no current data (exporter down or unreachable): *missing*."""

    site: str
    status: Status | None
    maintenance: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    #: The probes that are not OK, worst first.
    failing: tuple[GateProbe, ...] = ()
    #: Why the site is missing, when it is.
    missing_reason: str = ""
    #: Probes with no result yet (the exporter has just started): not a verdict.
    pending: tuple[GateProbe, ...] = ()
    #: The deploy freeze the site is in, if any.
    freeze: FreezeSeen | None = None
    #: The namespace its exporter runs in, where the source says (Prometheus' namespace label).
    namespace: str = ""

    @property
    def key(self) -> str:
        """How the gate names the site: ``shop``, or ``shop@test`` when its source names its
        cluster (many clusters on one store: the same name in two clusters is two sites)."""
        cluster = self.labels.get("cluster")
        return f"{self.site}@{cluster}" if cluster else self.site


class SourceUnreachable(Exception):
    """The source itself (an exporter's /status, or Prometheus) gave no usable answer."""


class SourceRejected(Exception):
    """The source refused what we asked (a bad ``--match``): a usage error, not an outage."""


def worst_first(probes: list[GateProbe]) -> tuple[GateProbe, ...]:
    return tuple(sorted(probes, key=lambda probe: (-probe.status.severity, probe.name)))
