"""Annotated services and ingresses of the namespace become ``http`` probes.

A service or ingress is probed when it carries ``site-status.io/probe: "true"``; the other
``site-status.io/`` annotations say how (see ``ANNOTATIONS``). The probe is an ordinary http
probe named ``service/<name>`` or ``ingress/<name>``. Anything wrong with the annotations makes a
``discovery`` probe that is UNKNOWN with the reason instead.

Annotations are not trusted (docs/kubernetes.md, "Trust model"): a probe only goes to the
annotated object itself, a Service's cluster name and ports or an Ingress's rule hosts, never
where ``targets.TargetGuard`` refuses, and TLS verification off or a regex only when the config
allows that annotation by name. ExternalName targets and other hosts need the config's
``allowed_hosts``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from exporter.kube.problem import DiscoveryProblem
from exporter.kube.targets import TargetGuard, normalize
from exporter.kube_client.client import Object
from exporter.kube_settings import DiscoverySettings
from exporter.probe_api import ProbeConfig

log = logging.getLogger(__name__)

PREFIX = "site-status.io/"
PROBE = PREFIX + "probe"

#: Annotation (without the prefix) -> http probe field it sets directly.
FIELDS = {
    "interval": "interval",
    "timeout": "timeout",
    "format": "format",
    "regex": "regex",
    "expected-codes": "expect_status",
    "critical": "critical",
    "verify": "verify",
}
#: Annotations that build the URL.
URL_PARTS = ("path", "port", "scheme", "host")
ANNOTATIONS = frozenset({"probe", *FIELDS, *URL_PARTS})
#: Probe names are at most 100 characters (and a probe label).
MAX_NAME = 100
#: Annotations the config must allow by name (``discovery.allowed_annotations``), and the
#: values that need it (None: any value).
RESTRICTED: dict[str, frozenset[str] | None] = {"verify": frozenset({"false"}), "regex": None}
#: The ports an ingress controller serves rule hosts on.
INGRESS_PORTS = frozenset({"80", "443"})


class AnnotationError(ValueError):
    """An annotation that cannot be used; the message names it."""


def probe_name(kind: str, name: str) -> str:
    full = f"{kind}/{name}"
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: MAX_NAME - 9]}-{digest}"


def wants_probe(obj: Object) -> bool:
    """Whether the object asks to be probed (``site-status.io/probe`` present and not false)."""
    value = _annotations(obj).get(PROBE)
    return value is not None and value.strip().lower() != "false"


def discovered_probes(
    http_config: type[ProbeConfig],
    services: Iterable[Object],
    ingresses: Iterable[Object],
    namespace: str,
    settings: DiscoverySettings,
    guard: TargetGuard | None = None,
) -> list[ProbeConfig]:
    """The probes for every annotated object, sorted by name (a problem probe where invalid).

    ``guard``: where probes may not go; by default only the fixed refusals (loopback,
    link-local, the API server's names) and the config's ``allowed_hosts``."""
    if guard is None:
        guard = TargetGuard.build(settings.cluster_domain, settings.allowed_hosts)
    probes: list[ProbeConfig] = []
    for kind, objects in (("service", services), ("ingress", ingresses)):
        for obj in objects:
            if wants_probe(obj):
                probes.append(_probe(http_config, kind, obj, namespace, settings, guard))
    return sorted(probes, key=lambda probe: probe.name)


def problem(name: str, source: str, reason: str) -> DiscoveryProblem:
    return DiscoveryProblem(name=name, kind="discovery", source=source, reason=reason)


def _probe(
    http_config: type[ProbeConfig],
    kind: str,
    obj: Object,
    namespace: str,
    settings: DiscoverySettings,
    guard: TargetGuard,
) -> ProbeConfig:
    object_name = str(obj["metadata"].get("name") or "?")  # wants_probe: metadata is a dict
    name = probe_name(kind, object_name)
    source = f"{kind}/{object_name}"
    annotations = _annotations(obj)
    try:
        fields = _fields(annotations, settings)
        if kind == "service":
            url = service_url(obj, annotations, namespace, settings, guard)
        else:
            url = ingress_url(obj, annotations, guard)
        config = http_config.model_validate(
            {
                "name": name,
                "kind": "http",
                "url": url,
                "description": f"discovered from {source}",
                **fields,
            }
        )
    except AnnotationError as error:
        return problem(name, source, f"{source}: {error}")
    except ValidationError as error:
        return problem(name, source, f"{source}: {_explain(error)}")
    except (TypeError, AttributeError, KeyError, ValueError) as error:
        # A field of the wrong shape (a real API server validates them; a proxy or a bug may
        # not): this object is UNKNOWN with the reason, the others are probed.
        return problem(name, source, f"{source}: malformed object ({type(error).__name__})")
    return config


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {str(k): str(v) for k, v in annotations.items()}


def _fields(annotations: Mapping[str, str], settings: DiscoverySettings) -> dict[str, Any]:
    value = annotations[PROBE].strip().lower()
    if value != "true":
        raise AnnotationError(f'{PROBE} must be "true" or "false", not {annotations[PROBE]!r}')
    fields: dict[str, Any] = {}
    for key, text in annotations.items():
        if not key.startswith(PREFIX):
            continue
        short = key.removeprefix(PREFIX)
        if short not in ANNOTATIONS:
            if short.startswith("maintenance"):  # the Deployment's, harmless elsewhere
                continue
            known = ", ".join(sorted(PREFIX + name for name in ANNOTATIONS))
            raise AnnotationError(f"unknown annotation {key} (known: {known})")
        _check_restricted(short, text, settings)
        if short == "expected-codes":
            fields["expect_status"] = [_code(part) for part in text.split(",") if part.strip()]
        elif short in FIELDS:
            fields[FIELDS[short]] = text.strip()
    return fields


def _code(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.isdigit() else text


def _check_restricted(short: str, text: str, settings: DiscoverySettings) -> None:
    if short not in RESTRICTED or short in settings.allowed_annotations:
        return
    values = RESTRICTED[short]
    if values is not None and text.strip().lower() not in values:
        return
    raise AnnotationError(
        f"{PREFIX}{short} is only taken when the config allows it: add {short!r} to "
        "kubernetes.discovery.allowed_annotations"
    )


def service_url(
    service: Object,
    annotations: Mapping[str, str],
    namespace: str,
    settings: DiscoverySettings,
    guard: TargetGuard | None = None,
) -> str:
    """The Service's own cluster name (or cluster IP) and one of its ports; a headless
    Service's target port (its name resolves to pod IPs, with no proxy to map the port); an
    ExternalName Service's target only when the config allows that host."""
    guard = guard or TargetGuard.build(settings.cluster_domain, settings.allowed_hosts)
    name = service["metadata"]["name"]
    spec = service.get("spec") or {}
    wanted = annotations.get(PREFIX + "port")
    cluster_name = f"{name}.{namespace}.svc.{settings.cluster_domain}"
    _refuse(guard, cluster_name)
    if spec.get("type") == "ExternalName":
        return _external_name_url(spec, annotations, wanted, guard)
    port = _service_port(spec.get("ports") or [], wanted)
    scheme = _scheme(annotations, _looks_tls(port))
    cluster_ip = str(spec.get("clusterIP") or "")
    if cluster_ip == "None":  # headless
        return f"{scheme}://{cluster_name}:{_target_port(port)}{_path(annotations)}"
    host = cluster_name
    if settings.address == "cluster-ip" and _is_ip(cluster_ip):
        _refuse(guard, cluster_ip)
        host = f"[{cluster_ip}]" if ":" in cluster_ip else cluster_ip
    return f"{scheme}://{host}:{port['port']}{_path(annotations)}"


def _external_name_url(
    spec: Mapping[str, Any], annotations: Mapping[str, str], wanted: str | None, guard: TargetGuard
) -> str:
    target = str(spec.get("externalName") or "").strip()
    if not target:
        raise AnnotationError("the ExternalName service has no externalName")
    if not guard.allows(target):
        raise AnnotationError(
            f"the ExternalName service points outside the cluster, at {target}: probed only "
            "when kubernetes.discovery.allowed_hosts lists it"
        )
    ports = spec.get("ports") or []
    if ports:
        port = _service_port(ports, wanted)
        number = str(port["port"])
    elif wanted is not None and wanted.strip().isdigit() and 0 < int(wanted) < 65536:
        port, number = {"port": int(wanted)}, wanted.strip()
    else:
        raise AnnotationError(f"the ExternalName service has no ports: set {PREFIX}port to one")
    scheme = _scheme(annotations, _looks_tls(port))
    return f"{scheme}://{target}:{number}{_path(annotations)}"


def _target_port(port: Mapping[str, Any]) -> int:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    raise AnnotationError(
        f"the headless service's port {port.get('name') or port.get('port')} has the named "
        f"targetPort {target!r}: its number is in the pods, which discovery does not read; "
        "give the targetPort as a number"
    )


def ingress_url(
    ingress: Object, annotations: Mapping[str, str], guard: TargetGuard | None = None
) -> str:
    """One of the Ingress's own rule hosts: the first concrete one, or ``site-status.io/host``
    naming one (or a name a wildcard rule covers); another host only when the config allows
    it. The port is the controller's (80, 443) unless the host is allowed."""
    guard = guard or TargetGuard.build("cluster.local", ())
    spec = ingress.get("spec") or {}
    hosts = [str(rule["host"]).lower() for rule in spec.get("rules") or [] if rule.get("host")]
    concrete = [host for host in hosts if not host.startswith("*.")]
    wanted = normalize(annotations.get(PREFIX + "host", ""))
    if wanted:
        if not (_covered(wanted, hosts) or guard.allows(wanted)):
            known = ", ".join(hosts) or "none"
            raise AnnotationError(
                f"{PREFIX}host {wanted!r} is not a host of the ingress ({known}); another host "
                "is probed only when kubernetes.discovery.allowed_hosts lists it"
            )
        host = wanted
    elif concrete:
        host = concrete[0]
    elif hosts:
        raise AnnotationError(
            f"the ingress's hosts are wildcards ({', '.join(hosts)}): set {PREFIX}host to a "
            "name they cover"
        )
    else:
        raise AnnotationError(f"the ingress has no host rule: set {PREFIX}host")
    _refuse(guard, host)
    tls_hosts = {str(h).lower() for tls in spec.get("tls") or [] for h in tls.get("hosts") or []}
    scheme = _scheme(annotations, _covered(host, sorted(tls_hosts)))
    port = annotations.get(PREFIX + "port", "").strip()
    if port and not port.isdigit():
        raise AnnotationError(f"{PREFIX}port on an ingress must be a number, not {port!r}")
    if port and port not in INGRESS_PORTS and not guard.allows(host):
        raise AnnotationError(
            f"{PREFIX}port {port}: an ingress is served on 80 and 443; another port only for a "
            "host kubernetes.discovery.allowed_hosts lists"
        )
    netloc = f"[{host}]" if ":" in host else host  # an allowed IPv6 address
    return f"{scheme}://{netloc}{':' + port if port else ''}{_path(annotations)}"


def _covered(host: str, rule_hosts: Iterable[str]) -> bool:
    """Whether a rule host is ``host``, or a wildcard matching it (``*.shop.example`` covers
    ``www.shop.example``: one label, as the Ingress API defines it)."""
    for rule in rule_hosts:
        if rule == host:
            return True
        if rule.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == rule[2:]:
                return True
    return False


def _refuse(guard: TargetGuard, host: str) -> None:
    reason = guard.refusal(host)
    if reason is not None:
        raise AnnotationError(
            f"not probed: {reason} (kubernetes.discovery.allowed_hosts can allow it)"
        )


def _service_port(ports: list[dict[str, Any]], wanted: str | None) -> dict[str, Any]:
    described = ", ".join(f"{p.get('name') or '-'}={p.get('port')}" for p in ports) or "none"
    if wanted is not None:
        wanted = wanted.strip()
        for port in ports:
            if wanted in (str(port.get("name") or ""), str(port.get("port"))):
                return port
        raise AnnotationError(f"{PREFIX}port {wanted!r} is not a port of the service ({described})")
    if len(ports) == 1:
        return ports[0]
    raise AnnotationError(f"the service has ports {described}: set {PREFIX}port to one of them")


def _looks_tls(port: Mapping[str, Any]) -> bool:
    name = str(port.get("name") or "").lower()
    protocol = str(port.get("appProtocol") or "").lower()
    return port.get("port") == 443 or "https" in name or protocol == "https"


def _scheme(annotations: Mapping[str, str], tls: bool) -> str:
    scheme = annotations.get(PREFIX + "scheme", "https" if tls else "http").strip().lower()
    if scheme not in ("http", "https"):
        raise AnnotationError(f'{PREFIX}scheme must be "http" or "https", not {scheme!r}')
    return scheme


def _path(annotations: Mapping[str, str]) -> str:
    path = annotations.get(PREFIX + "path", "/").strip() or "/"
    if not path.startswith("/"):
        raise AnnotationError(f"{PREFIX}path must start with /, not {path!r}")
    return path


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


#: http probe field -> the annotation that set it (for error messages).
_ANNOTATION_OF = {field: PREFIX + short for short, field in FIELDS.items()}
_ANNOTATION_OF["url"] = f"{PREFIX}path/port/scheme/host"


def _explain(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        where = _ANNOTATION_OF.get(field, field or "annotations")
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
