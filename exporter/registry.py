"""The probe kind registry: built-in kinds plus the ``site_status.probes`` entry point group.

Config validation builds its probe union from the same registry, so a kind's name is written
once (in its config model's ``kind`` Literal).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from exporter.probe_api import MetricFamily, ProbeKind

ENTRY_POINT_GROUP = "site_status.probes"
METRIC_PREFIX = "site_status_"

log = logging.getLogger(__name__)

AnyKind = ProbeKind[Any]


class KindRegistry:
    """Probe kinds by name, with the metric families they declare."""

    def __init__(self, kinds: Iterable[AnyKind] = ()) -> None:
        self._kinds: dict[str, AnyKind] = {}
        self._families: dict[str, MetricFamily] = {}
        #: Entry points that could not be loaded, by name, with the reason.
        self.load_errors: dict[str, str] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: AnyKind) -> None:
        if not isinstance(kind, ProbeKind):
            raise TypeError(f"{kind!r} is not a ProbeKind")
        name = kind.name
        if name in self._kinds and self._kinds[name] is not kind:
            raise ValueError(f"probe kind {name!r} is registered twice")
        for family in kind.metrics:
            if "probe" in family.labels:
                raise ValueError(f"kind {name!r}: metric {family.name!r} must not declare 'probe'")
            if not family.name.startswith(METRIC_PREFIX):
                raise ValueError(
                    f"kind {name!r}: metric {family.name!r} must start with site_status_"
                )
            known = self._families.get(family.name)
            if known is not None and known is not family:
                raise ValueError(f"kind {name!r}: metric {family.name!r} is declared twice")
        self._kinds[name] = kind
        self._families.update((family.name, family) for family in kind.metrics)

    def load_entry_points(self) -> None:
        """Register third-party kinds; a broken one is logged and kept out, not fatal."""
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                kind = entry_point.load()
                self.register(kind)
            except Exception as error:
                self.load_errors[entry_point.name] = f"{type(error).__name__}: {error}"
                log.error(
                    "probe kind %r from %s not loaded: %s",
                    entry_point.name,
                    entry_point.value,
                    error,
                )

    def get(self, name: str) -> AnyKind:
        return self._kinds[name]

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def kinds(self) -> list[AnyKind]:
        return [self._kinds[name] for name in self.names()]

    def families(self) -> dict[str, MetricFamily]:
        return dict(self._families)


def default_registry() -> KindRegistry:
    """The built-in kinds plus every installed plug-in."""
    from probes import BUILTIN_KINDS

    registry = KindRegistry(BUILTIN_KINDS)
    registry.load_entry_points()
    return registry
