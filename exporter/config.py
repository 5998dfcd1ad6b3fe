"""Config: YAML plus ``SITE_STATUS_*`` environment overrides, strictly validated.

Every error names its YAML path (``probes[2].max_age.warning``) and, where the value came from
the file, its line. Validation collects all errors of a document at once.
"""

from __future__ import annotations

import os
import re
import socket
import typing
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from exporter.config_errors import ConfigError, shown_key
from exporter.config_errors import ConfigInvalid as ConfigInvalid
from exporter.config_errors import format_path as format_path
from exporter.config_source import ConfigSourceError, read_config_text
from exporter.config_yaml import YamlDocument, YamlError
from exporter.freeze import Freeze
from exporter.kube_settings import KubernetesSettings
from exporter.maintenance import WINDOW_TAGS, ScheduledWindow, Window
from exporter.probe_api import AbsolutePath, Duration, ProbeConfig, Size
from exporter.registry import KindRegistry
from exporter.schedule import timeline
from exporter.schedule.announce import Announcement, announce

ENV_PREFIX = "SITE_STATUS_"
DEFAULT_LISTEN = ":9918"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Service hours by tier where a site does not set its own (none: every hour). flexprod is
#: "fixed in working hours" (DESIGN.md): the office hours Alertmanager routes it in.
TIER_SERVICE_HOURS: dict[str, tuple[Window, ...]] = {
    "flexprod": (ScheduledWindow(schedule="mon-fri 08:00-16:00 Europe/Oslo"),),
}


class Site(Strict):
    name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=128)
    #: Bounded: they become Loki stream labels (or structured metadata) and Prometheus labels.
    environment: str = Field(default="prod", max_length=63)
    tier: Literal["priprod", "flexprod", "besteffort"] = "besteffort"
    profile: str = Field(default="", max_length=63)
    #: The cluster the site runs in, as its Prometheus names it (``external_labels.cluster``):
    #: a Loki stream label of the reports and a fact on the status page. Empty: one cluster.
    cluster: str = Field(default="", max_length=63, pattern=r"^[A-Za-z0-9._-]*$")
    #: One-off windows ``{start, end}``, weekly ones ``{weekday, start, end, timezone}``, and
    #: schedules of the one-line grammar (``first wed 18:00-22:00 Europe/Oslo``, ``except ...``).
    maintenance: tuple[Window, ...] = ()
    #: The hours the site's service is promised, written as maintenance windows are; the
    #: service-level rules count only these (docs/alerts.md, "Service hours"). Unset: the
    #: tier's (TIER_SERVICE_HOURS); ``[daily]`` is every hour.
    service_hours: tuple[Window, ...] | None = None

    #: The deploy freeze declared on the exporter's Deployment (Kubernetes): not a config key.
    _freeze: Freeze | None = PrivateAttr(default=None)

    @property
    def freeze(self) -> Freeze | None:
        return self._freeze

    def with_freeze(self, freeze: Freeze | None) -> Site:
        site = self.model_copy()
        site._freeze = freeze
        return site

    def in_maintenance(self, moment: datetime | None = None) -> bool:
        return timeline.covers(self.maintenance, moment or datetime.now(UTC))

    @field_validator("service_hours")
    @classmethod
    def _some_hours(cls, hours: tuple[Window, ...] | None) -> tuple[Window, ...] | None:
        if hours is not None and not any(not window.blackout for window in hours):
            raise ValueError("no hours at all: leave it out for the tier's, or write [daily]")
        return hours

    def in_service_hours(self, moment: datetime | None = None) -> bool:
        hours = self.service_hours
        if hours is None:
            hours = TIER_SERVICE_HOURS.get(self.tier)
        return hours is None or timeline.covers(hours, moment or datetime.now(UTC))

    def announced(self, moment: datetime | None = None) -> Announcement:
        """The maintenance window the site is in, and the next one."""
        return announce(self.maintenance, moment or datetime.now(UTC))


class LokiBasicAuth(Strict):
    username: str = Field(min_length=1)
    #: A file holding the password (a mounted Secret), never the password itself.
    password_file: AbsolutePath


class LokiSpool(Strict):
    """Where reports wait for Loki, on disk, so that they survive an outage and a restart."""

    #: Empty means ``loki-spool-<site>`` in the state directory: one per site, as exporters
    #: of several sites on one machine share the state directory.
    directory: str | None = None
    max_bytes: Size = Field(default=64 * 1024 * 1024, ge=1024 * 1024)

    def path(self, site: str = "") -> Path:
        if self.directory:
            return Path(self.directory)
        return default_state_directory() / site_file_name("loki-spool", site)

    def shared_default(self) -> Path | None:
        """The default of earlier versions, one spool for every site on the machine: each
        exporter takes its own site's reports out of it (None when ``directory`` is set)."""
        return None if self.directory else default_state_directory() / SHARED_SPOOL


class LokiSettings(Strict):
    """Push reports to Grafana Loki (``POST /loki/api/v1/push``). Secrets only from files."""

    #: Loki's base URL (``http://loki:3100``) or the full push URL.
    url: str
    #: ``X-Scope-OrgID`` for a multi-tenant Loki.
    tenant: str | None = Field(default=None, min_length=1)
    basic_auth: LokiBasicAuth | None = None
    bearer_token_file: AbsolutePath | None = None
    ca_file: AbsolutePath | None = None
    cert_file: AbsolutePath | None = None
    key_file: AbsolutePath | None = None
    insecure_skip_verify: bool = False
    #: A batch is sent when it holds this many bytes of lines, or ``batch_max_wait`` after its
    #: first report, whichever comes first.
    batch_max_bytes: Size = Field(default=1024 * 1024, ge=1024)
    batch_max_wait: Duration = Field(default=1.0, gt=0, le=60)
    #: One push request, connect to answer.
    timeout: Duration = Field(default=10.0, gt=0, le=300)
    #: Lines longer than this are trimmed (Loki's default ``max_line_size`` is 256KB).
    max_line_bytes: Size = Field(default=256 * 1024, ge=4096)
    #: Send probe, profile and previous status as structured metadata (Loki 3 with
    #: ``allow_structured_metadata``); they are in the line either way.
    structured_metadata: bool = False
    spool: LokiSpool = Field(default_factory=LokiSpool)
    #: Reports held in memory; the rest wait in the spool file.
    max_queue: int = Field(default=10_000, ge=1, le=1_000_000)
    #: Retry delays grow from ``min_backoff`` to ``max_backoff`` (doubling, with jitter).
    min_backoff: Duration = Field(default=0.5, gt=0)
    max_backoff: Duration = Field(default=60.0, gt=0)
    #: A batch that keeps failing holds back the reports behind it for at most this long; then
    #: the next batch is tried, and if Loki takes it the failing one goes to the end of the queue.
    max_hold_back: Duration = Field(default=120.0, gt=0, le=86400)
    #: At shutdown, queued reports are pushed for at most this long; the rest stay spooled.
    flush_timeout: Duration = Field(default=5.0, ge=0, le=300)

    @field_validator("url")
    @classmethod
    def _loki_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise ValueError(
                "url must not hold credentials: use basic_auth.password_file or bearer_token_file"
            )
        return url

    @model_validator(mode="after")
    def _consistent(self) -> LokiSettings:
        if self.basic_auth is not None and self.bearer_token_file is not None:
            raise ValueError("basic_auth and bearer_token_file exclude each other")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        if self.min_backoff > self.max_backoff:
            raise ValueError("min_backoff must not exceed max_backoff")
        if self.spool.max_bytes < 4 * self.max_line_bytes:
            raise ValueError("spool.max_bytes must hold at least 4 lines of max_line_bytes")
        return self

    def push_url(self) -> str:
        """The push endpoint: the URL as given if it ends in the push path, else appended."""
        parts = urlsplit(self.url)
        path = parts.path.rstrip("/")
        if not path.endswith(LOKI_PUSH_PATH):
            path += LOKI_PUSH_PATH
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


LOKI_PUSH_PATH = "/loki/api/v1/push"


class Reports(Strict):
    #: JSONL file for status reports; empty means the default state directory. With ``loki``
    #: set, the file is written only when given here.
    file: str | None = None
    max_file_bytes: Size = Field(default=64 * 1024 * 1024, ge=4096)
    snapshot_interval: Duration = Field(default=300.0, gt=0)
    loki: LokiSettings | None = None

    def file_path(self, site: str = "") -> Path:
        """The report file: ``file``, else one per site in the state directory (exporters of
        several sites on one machine share that directory, never a file)."""
        if self.file:
            return Path(self.file)
        return default_state_directory() / default_report_file(site)

    def writes_file(self) -> bool:
        return self.loki is None or bool(self.file)


def default_report_file(site: str) -> str:
    """``reports-<site>.jsonl``."""
    return site_file_name("reports", site, ".jsonl")


#: The default spool directory before it was one per site.
SHARED_SPOOL = "loki-spool"


def site_file_name(prefix: str, site: str, suffix: str = "") -> str:
    """``<prefix>-<site><suffix>``, the site's name made safe for a file name (``<prefix><suffix>``
    if nothing of it is)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", site).strip(".")
    return f"{prefix}-{safe}{suffix}" if safe else f"{prefix}{suffix}"


def default_state_directory() -> Path:
    """systemd's ``STATE_DIRECTORY``, else /var/lib/site-status if writable, else ~/.local/state."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    system = Path("/var/lib/site-status")
    if os.access(system, os.W_OK) or (not system.exists() and os.access(system.parent, os.W_OK)):
        return system
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "site-status"


class Defaults(Strict):
    interval: Duration = Field(default=60.0, gt=0)
    timeout: Duration = Field(default=10.0, gt=0)
    #: Random delay added to each run; unset means 10 % of the probe's interval.
    jitter: Duration | None = None


class ExporterSettings(Strict):
    listen: str = DEFAULT_LISTEN
    #: Probe runs in flight at once, over all probes.
    concurrency: int = Field(default=8, ge=1, le=1000)
    proc_root: str = "/proc"
    sys_root: str = "/sys"
    #: The node this exporter runs on, a label of ``site_status_node_info``: node-wide alerts
    #: (load) notify once per node. In Kubernetes the Downward API sets it from spec.nodeName
    #: (``SITE_STATUS_EXPORTER__NODE``); elsewhere the host name is the node.
    node: str = Field(default_factory=socket.gethostname, min_length=1, max_length=253)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        parse_listen(value)
        return value


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (all addresses) or ``[::1]:PORT``."""
    if not value.strip():
        raise ValueError("listen address is empty: write HOST:PORT or :PORT (e.g. :9918)")
    if "://" in value:
        bare = value.strip().split("://", 1)[1].rstrip("/")
        raise ValueError(f"listen address {value!r} takes no scheme: write {bare}")
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        hint = f" (did you mean :{port}?)" if port.isdigit() else ""
        raise ValueError(f"listen address {value!r} must be HOST:PORT or :PORT{hint}")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {value!r}: the port must be a number from 0 to 65535")
    host = host.strip()
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"listen address {value!r}: write an IPv6 address as [::1]:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass(frozen=True, slots=True)
class Timing:
    """A probe's effective schedule after kind and config defaults are applied."""

    interval: float
    timeout: float
    jitter: float


class SiteStatusConfig(BaseSettings):
    """The whole config. ``probes`` is narrowed to the registry's kinds by ``config_model``."""

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        nested_model_default_partial_update=True,
        # An empty variable is unset: the Downward API gives "" for a pod label that is absent.
        env_ignore_empty=True,
        # Only the subclasses that config_model() builds for the kinds in use are validated:
        # building this base class too would cost memory for nothing.
        defer_build=True,
    )

    site: Site = Field(default_factory=Site)
    reports: Reports = Field(default_factory=Reports)
    defaults: Defaults = Field(default_factory=Defaults)
    exporter: ExporterSettings = Field(default_factory=ExporterSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    probes: tuple[ProbeConfig, ...] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (passed in as init values).
        return (env_settings, init_settings)

    def timing(self, probe: ProbeConfig) -> Timing:
        interval = probe.interval or probe.default_interval or self.defaults.interval
        timeout = probe.timeout or probe.default_timeout or self.defaults.timeout
        jitter = probe.jitter
        if jitter is None and probe.default_jitter_ratio is not None:
            jitter = interval * probe.default_jitter_ratio
        if jitter is None:
            jitter = self.defaults.jitter if self.defaults.jitter is not None else interval / 10
        return Timing(interval=interval, timeout=min(timeout, interval), jitter=jitter)

    def probe(self, name: str) -> ProbeConfig:
        for probe in self.probes:
            if probe.name == name:
                return probe
        raise KeyError(name)


def config_model(
    registry: KindRegistry, kinds: Iterable[str] | None = None
) -> type[SiteStatusConfig]:
    """The config class whose ``probes`` accepts ``kinds`` (default: all the registry's)."""
    wanted = None if kinds is None else sorted(set(kinds))
    loaded = registry.kinds() if wanted is None else registry.load(wanted)
    if wanted is not None and len(loaded) < len(wanted):  # one failed to load: say so
        loaded = registry.kinds()
    models = tuple(kind.config for kind in loaded)
    cache = _config_models.setdefault(registry, {})
    if models not in cache:
        cache[models] = _union_model(models)
    return cache[models]


#: Built once per set of kinds: a reload must not build (and keep) a new validator each time.
_config_models: weakref.WeakKeyDictionary[
    KindRegistry, dict[tuple[type, ...], type[SiteStatusConfig]]
] = weakref.WeakKeyDictionary()


def _union_model(models: tuple[type[ProbeConfig], ...]) -> type[SiteStatusConfig]:
    if not models:  # no kind at all: no probe can be valid
        empty: type[SiteStatusConfig] = create_model(
            "SiteStatusConfig", __base__=SiteStatusConfig, probes=(tuple[()], ())
        )
        return empty
    probe_type: Any = models[0]
    if len(models) > 1:
        probe_type = Annotated[typing.Union[models], Discriminator("kind")]  # noqa: UP007
    model: type[SiteStatusConfig] = create_model(
        "SiteStatusConfig",
        __base__=SiteStatusConfig,
        probes=(tuple[probe_type, ...], ()),
    )
    return model


def load_config(path: str | Path | None, registry: KindRegistry) -> SiteStatusConfig:
    """Read, merge with the environment and validate; raise ``ConfigInvalid`` with every error."""
    if path is None:
        source = "embedded default config"
        text = resources.files("exporter").joinpath("default.yaml").read_text()
    else:
        source = str(path)
        try:
            text = read_config_text(path)
        except ConfigSourceError as error:
            raise ConfigInvalid(source, [error.error]) from None
    return parse_config(text, registry, source=source)


def parse_config(
    text: str, registry: KindRegistry, *, source: str = "<config>"
) -> SiteStatusConfig:
    """Validate YAML text; ``SITE_STATUS_*`` variables in the environment override it."""
    try:
        document = YamlDocument.parse(text)
    except YamlError as error:
        raise ConfigInvalid(source, [error.error]) from None
    data = document.data
    errors = list(document.errors)
    if not isinstance(data, dict):
        raise ConfigInvalid(source, [*errors, _not_a_mapping(data)])
    odd_keys = [key for key in data if not isinstance(key, str)]
    if odd_keys:
        errors += [ConfigError(shown_key(key), "keys must be text") for key in odd_keys]
        raise ConfigInvalid(source, errors)
    errors += _probe_graph_errors(data.get("probes"), document)
    errors += _pasted_probe_errors(data)
    model = config_model(registry, _kinds_used(data.get("probes"), registry))
    config = None
    try:
        config = model(**data)
    except ValidationError as error:
        errors += [_config_error(e, registry, document, model, data) for e in error.errors()]
    except SettingsError as error:  # a SITE_STATUS_ variable of a mapping or list is not JSON
        errors.append(_environment_json_error(error))
    if config is not None:
        errors += _timing_errors(config, document)
    if errors or config is None:
        raise ConfigInvalid(source, errors)
    return config


def _not_a_mapping(data: Any) -> ConfigError:
    message = "the config must be a YAML mapping (site:, reports:, defaults:, probes: ...)"
    if isinstance(data, list) and any(isinstance(item, dict) and "kind" in item for item in data):
        message += "; probe entries go under probes:"
    return ConfigError("", message)


def _pasted_probe_errors(data: Mapping[str, Any]) -> list[ConfigError]:
    """A single probe pasted at the top level: say where it belongs."""
    if "kind" in data and "probes" not in data:
        return [ConfigError("", "this looks like a probe: probe entries go under probes:", 1)]
    return []


def _kinds_used(probes: Any, registry: KindRegistry) -> list[str] | None:
    """The kinds a config's probes name, or None (all kinds) if one is unknown: its error then
    lists every kind, and the union that reports it must hold them all."""
    if not isinstance(probes, list):
        return []
    names = {p.get("kind") for p in probes if isinstance(p, dict) and _hashable(p.get("kind"))}
    known = set(registry.names())
    used = sorted(name for name in names if isinstance(name, str) and name in known)
    return used if len(used) == len(names) else None


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | None)


def _config_error(
    error: Any,
    registry: KindRegistry,
    document: YamlDocument,
    model: type[BaseModel],
    data: Mapping[str, Any],
) -> ConfigError:
    loc = _without_union_tags(tuple(error["loc"]), registry)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key" + _suggestion(loc, model, data)
    elif error["type"] == "union_tag_invalid":
        kind = error["input"].get("kind")
        message = f"unknown probe kind {kind!r}; known: {', '.join(registry.names())}"
        for name, reason in registry.load_errors.items():
            message += f" (plug-in {name!r} failed to load: {reason})"
        loc = (*loc, "kind")
    elif error["type"] == "union_tag_not_found":
        message = f"missing 'kind'; known kinds: {', '.join(registry.names())}"
    elif error["type"] in ("tuple_type", "list_type") and isinstance(error["input"], dict):
        message = "must be a list: start each entry with '- ' (this is a mapping)"
    variable = _environment_variable(loc)
    if variable is not None:
        return ConfigError(format_path(loc), f"{message} (from environment {variable})")
    return ConfigError(format_path(loc), message, document.line(loc))


def _suggestion(loc: tuple[Any, ...], model: type[BaseModel], data: Mapping[str, Any]) -> str:
    """``; did you mean path?`` for a key one or two typos away from a known one."""
    key = loc[-1] if loc else None
    if not isinstance(key, str) or shown_key(key) != key:
        return ""
    import difflib  # only to word a config error: not in the memory of a running exporter

    close = difflib.get_close_matches(key, known_keys(model, loc[:-1], data), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def known_keys(model: type[BaseModel], loc: Sequence[Any], data: Any) -> list[str]:
    """The keys the config allows in the mapping at ``loc`` (empty if it cannot tell)."""
    models: list[type[BaseModel]] = [model]
    value = data
    for part in loc:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and 0 <= part < len(value) else None
            continue
        current = _pick_model(models, value)
        field = current.model_fields.get(part) if current is not None else None
        if field is None:
            return []
        models = _models_in(field.annotation)
        value = value.get(part) if isinstance(value, dict) else None
    current = _pick_model(models, value)
    return list(current.model_fields) if current is not None else []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through Optional, tuple, Union, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _pick_model(models: list[type[BaseModel]], value: Any) -> type[BaseModel] | None:
    """One model, or the one of a union whose ``kind`` tag the value names."""
    if len(models) <= 1:
        return models[0] if models else None
    kind = value.get("kind") if isinstance(value, dict) else None
    for candidate in models:
        tag = candidate.model_fields.get("kind")
        if tag is not None and kind in typing.get_args(tag.annotation):
            return candidate
    return None


def _environment_json_error(error: SettingsError) -> ConfigError:
    field = re.search(r'field "([^"]+)"', str(error))
    loc = tuple(field[1].split(".")) if field else ()
    variable = _environment_variable(loc) or f"{ENV_PREFIX}*"
    return ConfigError(
        format_path(loc),
        f"not valid JSON (from environment {variable}): a mapping or list "
        'is set as JSON, e.g. \'{"name": "shop"}\', or use __ for one key',
    )


def _environment_variable(loc: Sequence[Any]) -> str | None:
    """The ``SITE_STATUS_A__B`` variable that set the value at ``loc``, if one did."""
    for end in range(len(loc), 0, -1):
        if any(isinstance(part, int) for part in loc[:end]):
            continue
        name = (ENV_PREFIX + "__".join(str(part) for part in loc[:end])).upper()
        if any(key.upper() == name for key in os.environ):
            return name
    return None


def _without_union_tags(loc: tuple[Any, ...], registry: KindRegistry) -> tuple[Any, ...]:
    """Pydantic puts the union tag in the path (``probes.2.file.path``): drop it."""
    names = set(registry.names())
    if len(loc) >= 3 and loc[0] == "probes" and isinstance(loc[1], int) and loc[2] in names:
        return (*loc[:2], *loc[3:])
    if loc[:2] == ("site", "maintenance") and len(loc) >= 4 and loc[3] in WINDOW_TAGS:
        return (*loc[:3], *loc[4:])
    return loc


def _probe_graph_errors(probes: Any, document: YamlDocument) -> list[ConfigError]:
    """Unique names, known and acyclic dependencies: checked on the raw data, alongside types."""
    if not isinstance(probes, list):
        return []
    errors = []
    index_by_name: dict[str, int] = {}
    for i, probe in enumerate(probes):
        name = probe.get("name") if isinstance(probe, dict) else None
        if isinstance(name, str):
            if name in index_by_name:
                first = index_by_name[name]
                first_line = document.line(("probes", first, "name"))
                also = f"probes[{first}]" + (f", line {first_line}" if first_line else "")
                errors.append(
                    ConfigError(
                        f"probes[{i}].name",
                        f"duplicate probe name {name!r} (also {also})",
                        document.line(("probes", i, "name")),
                    )
                )
            else:
                index_by_name[name] = i
    graph: dict[str, list[str]] = {}
    for i, probe in enumerate(probes):
        if not isinstance(probe, dict) or not isinstance(probe.get("depends_on"), list):
            continue
        for j, dependency in enumerate(probe["depends_on"]):
            if not isinstance(dependency, str) or dependency not in index_by_name:
                errors.append(
                    ConfigError(
                        f"probes[{i}].depends_on[{j}]",
                        f"no probe named {dependency!r}",
                        document.line(("probes", i, "depends_on", j)),
                    )
                )
            elif dependency == probe.get("name"):
                errors.append(
                    ConfigError(
                        f"probes[{i}].depends_on[{j}]",
                        "a probe cannot depend on itself",
                        document.line(("probes", i, "depends_on", j)),
                    )
                )
            elif isinstance(probe.get("name"), str):
                graph.setdefault(probe["name"], []).append(dependency)
    cycle = _find_cycle(graph)
    if cycle:
        first = index_by_name[cycle[0]]
        errors.append(
            ConfigError(f"probes[{first}].depends_on", "dependency cycle: " + " -> ".join(cycle))
        )
    return errors


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str]:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str]:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return []
        visiting.append(node)
        for dependency in graph.get(node, []):
            cycle = visit(dependency)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return []

    for node in graph:
        cycle = visit(node)
        if cycle:
            return cycle
    return []


def _timing_errors(config: SiteStatusConfig, document: YamlDocument) -> list[ConfigError]:
    errors = []
    for i, probe in enumerate(config.probes):
        interval = probe.interval or probe.default_interval or config.defaults.interval
        if probe.timeout is not None and probe.timeout > interval:
            loc = ("probes", i, "timeout")
            errors.append(
                ConfigError(
                    format_path(loc),
                    f"timeout ({probe.timeout:g}s) is longer than the interval ({interval:g}s)",
                    document.line(loc),
                )
            )
    return errors
