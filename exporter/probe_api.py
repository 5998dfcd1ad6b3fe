"""Everything a probe kind needs, in one place: config base, context, result, metric families.

A probe kind is a pydantic config model (with ``kind: Literal["name"]``) plus one async
function ``run(config, context) -> Result``. It returns data; the runner owns scheduling,
timeouts, the common series and turning exceptions into UNKNOWN.
"""

from __future__ import annotations

import posixpath
import re
import typing
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from exporter.mounts import MountTable
from exporter.reasons import Reason, bounded_part
from exporter.status import Status
from exporter.units import parse_duration, parse_size

__all__ = [
    "AbsolutePath",
    "Duration",
    "MetricFamily",
    "ProbeConfig",
    "ProbeContext",
    "ProbeKind",
    "Reason",
    "Result",
    "Sample",
    "Size",
    "Status",
]

T = TypeVar("T")

#: Seconds, written as ``30s``, ``5m``, ``2h``, ``1h30m`` or a plain number.
Duration = Annotated[float, BeforeValidator(parse_duration)]


def _absolute_path(path: str) -> str:
    if not posixpath.isabs(path):
        raise ValueError("path must be absolute")
    return posixpath.normpath(path)


#: An absolute path, normalized (``/data/./x/`` -> ``/data/x``).
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
#: Bytes, written as ``512``, ``10KiB``, ``5MB`` or a plain number.
Size = Annotated[int, BeforeValidator(lambda value: round(parse_size(value)))]

_PROBE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """A series: its name, HELP text and label names (a kind's own; the runner adds ``probe``)."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    type: Literal["gauge", "counter"] = "gauge"

    def __post_init__(self) -> None:
        if not _METRIC_NAME.fullmatch(self.name) or not self.help:
            raise ValueError(f"metric family {self.name!r} needs a valid name and HELP text")
        bad = [name for name in self.labels if not _LABEL_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"metric family {self.name!r}: invalid label names {bad}")


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of a declared family; ``labels`` are the family's own labels."""

    family: str
    value: float
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    """What a probe run found: a status, one line saying why, details, numeric samples.

    A result that is not OK says why in ``reason`` too (exporter/reasons.py: a closed
    vocabulary, a label of ``site_status_probe_reason``), and names what failed in ``part``
    where a bounded name exists (a health component, a requirement id, a mount point). Without
    one it counts as ``error``.
    """

    status: Status
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    samples: tuple[Sample, ...] = ()
    reason: Reason | None = None
    part: str = ""

    def __post_init__(self) -> None:
        if self.part:
            object.__setattr__(self, "part", bounded_part(self.part))

    @property
    def why(self) -> Reason | None:
        """The reason of a result that is not OK (``error`` if the kind gave none); None if OK."""
        if self.status is Status.OK:
            return None
        return self.reason or Reason.ERROR


class ProbeConfig(BaseModel):
    """Fields every probe has. A kind subclasses it and narrows ``kind`` to a Literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str
    description: str = ""
    interval: Duration | None = Field(default=None, gt=0)
    timeout: Duration | None = Field(default=None, gt=0)
    jitter: Duration | None = None
    critical: bool = True
    depends_on: tuple[str, ...] = ()
    failure_threshold: int = Field(default=1, ge=1, le=100)
    success_threshold: int = Field(default=1, ge=1, le=100)

    #: Kind-level defaults, used before the config's ``defaults`` block (e.g. drush: 5m).
    default_interval: ClassVar[float | None] = None
    default_timeout: ClassVar[float | None] = None
    #: Kind-level default jitter as a fraction of the interval (e.g. drush: 1.0, spread over
    #: the whole interval); used before the config's ``defaults.jitter``.
    default_jitter_ratio: ClassVar[float | None] = None

    @field_validator("name")
    @classmethod
    def _name_is_a_label(cls, name: str) -> str:
        if not _PROBE_NAME.fullmatch(name):
            raise ValueError(
                "a probe name is 1-100 characters of letters, digits and _ . : / -, "
                "starting with a letter or digit"
            )
        return name


class ProbeContext(Protocol):
    """What the runner gives a probe run."""

    @property
    def timeout(self) -> float:
        """Seconds this run may take in all."""

    def remaining(self) -> float:
        """Seconds left before the runner gives up on this run."""

    async def blocking(self, func: Callable[..., T], *args: Any, resource: str | None) -> T:
        """``func(*args)`` in a worker thread, abandoned at the deadline.

        ``resource`` names what may hang (a mount point): while an abandoned call on it has
        not returned, new calls raise ``ResourceStuck`` at once instead of starting a thread.
        """

    def mounts(self) -> MountTable:
        """The current mount table (re-read at most every few seconds)."""

    def host_path(self, path: str) -> str:
        """``/proc/...``, ``/sys/...`` or a mount point of the mount table under the configured
        roots (a node's filesystem mounted into a container, fixtures in tests)."""

    def shared(self, key: Hashable, factory: Callable[[], T]) -> T:
        """One object for every run with this key (an HTTP client per TLS setting), made by
        ``factory`` on first use and closed (``aclose``) when the exporter stops."""


ConfigT = TypeVar("ConfigT", bound=ProbeConfig)


@dataclass(frozen=True)
class ProbeKind(Generic[ConfigT]):
    """A probe kind: its config model, its run function and the series it publishes."""

    config: type[ConfigT]
    run: Callable[[ConfigT, ProbeContext], Awaitable[Result]]
    metrics: tuple[MetricFamily, ...] = ()

    @property
    def name(self) -> str:
        """The kind's name, taken from ``kind: Literal["name"]`` so it is written once."""
        annotation = self.config.model_fields["kind"].annotation
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is not Literal or len(args) != 1:
            raise TypeError(f"{self.config.__name__}.kind must be a Literal of one name")
        return str(args[0])
