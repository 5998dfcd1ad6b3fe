"""The probe kind registry: built-in kinds plus the ``site_status.probes`` entry point group.

Kinds load lazily: a config that uses three kinds imports three modules and builds a config
union of three models, whatever else is installed (each kind costs memory: models, schemas).
A kind's name is its config model's ``kind`` Literal; the name a kind is found under (its module
name, or its entry point's name) must agree with it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from exporter.probe_api import MetricFamily, ProbeKind

ENTRY_POINT_GROUP = "site_status.probes"
METRIC_PREFIX = "site_status_"
#: Built-in kinds by name: the module that holds each one's ``KIND`` (a family of kinds with
#: helper modules is a package whose entry module is ``probe``).
BUILTIN_KIND_MODULES = {
    "disk": "probes.disk",
    "dns": "probes.dns",
    "drupal": "probes.drupal.probe",
    "file": "probes.file",
    "http": "probes.http.probe",
    "load": "probes.load",
    "mount": "probes.mount",
    "tcp": "probes.tcp",
}
BUILTIN_KIND_NAMES = tuple(BUILTIN_KIND_MODULES)

log = logging.getLogger(__name__)

AnyKind = ProbeKind[Any]


class KindRegistry:
    """Probe kinds by name, loaded on first use, with the metric families they declare."""

    def __init__(self, kinds: Iterable[AnyKind] = ()) -> None:
        self._kinds: dict[str, AnyKind] = {}
        self._loaders: dict[str, Callable[[], AnyKind]] = {}
        self._families: dict[str, MetricFamily] = {}
        #: Kinds that could not be loaded, by name, with the reason.
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
            _check_family(name, family, self._families.get(family.name))
        self._kinds[name] = kind
        self._families.update((family.name, family) for family in kind.metrics)

    def add_lazy(self, name: str, load: Callable[[], Any]) -> None:
        """Make ``name`` known; ``load()`` returns its ProbeKind when first needed."""
        if name not in self._kinds:
            self._loaders[name] = load

    def load_entry_points(self) -> None:
        """Make third-party kinds known (they are imported when a config uses them)."""
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            self.add_lazy(entry_point.name, entry_point.load)

    def get(self, name: str) -> AnyKind:
        """The kind, loading it if needed; KeyError if unknown or if it failed to load."""
        if name not in self._kinds and name in self._loaders:
            self._load(name)
        return self._kinds[name]

    def _load(self, name: str) -> None:
        load = self._loaders.pop(name)
        try:
            kind = load()
            if isinstance(kind, ProbeKind) and kind.name != name:
                raise ValueError(f"found as {name!r} but its config says kind {kind.name!r}")
            self.register(kind)
        except Exception as error:  # a broken plug-in is reported, not fatal
            self.load_errors[name] = f"{type(error).__name__}: {error}"
            log.error("probe kind %r not loaded: %s", name, error)

    def load(self, names: Iterable[str]) -> list[AnyKind]:
        """The kinds of ``names`` that exist and load."""
        found = []
        for name in names:
            try:
                found.append(self.get(name))
            except KeyError:
                continue
        return found

    def names(self) -> list[str]:
        """Every known kind, loaded or not (failed ones excepted)."""
        return sorted(set(self._kinds) | set(self._loaders))

    def kinds(self) -> list[AnyKind]:
        """Every kind, loading all of them."""
        return self.load(self.names())

    def families(self) -> dict[str, MetricFamily]:
        """The metric families of the loaded kinds."""
        return dict(self._families)


def _check_family(kind: str, family: MetricFamily, known: MetricFamily | None) -> None:
    if "probe" in family.labels:
        raise ValueError(f"kind {kind!r}: metric {family.name!r} must not declare 'probe'")
    if not family.name.startswith(METRIC_PREFIX):
        raise ValueError(f"kind {kind!r}: metric {family.name!r} must start with {METRIC_PREFIX}")
    if known is not None and known is not family:
        raise ValueError(f"kind {kind!r}: metric {family.name!r} is declared twice")


def _builtin(name: str) -> Callable[[], AnyKind]:
    def load() -> AnyKind:
        kind: AnyKind = importlib.import_module(BUILTIN_KIND_MODULES[name]).KIND
        return kind

    return load


def default_registry() -> KindRegistry:
    """The built-in kinds plus every installed plug-in, all loaded on first use."""
    registry = KindRegistry()
    for name in BUILTIN_KIND_NAMES:
        registry.add_lazy(name, _builtin(name))
    registry.load_entry_points()
    return registry
