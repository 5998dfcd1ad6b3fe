"""Annotated services and ingresses of the namespace become ``http`` probes.

A service or ingress is probed when it carries ``site-status.io/probe: "true"``; the other
``site-status.io/`` annotations say how (see ``ANNOTATIONS``). The probe is an ordinary http
probe named ``service/<name>`` or ``ingress/<name>``. Anything wrong with the annotations makes a
``discovery`` probe that is UNKNOWN with the reason instead.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from exporter.kube.client import Object
from exporter.kube.problem import DiscoveryProblem
from exporter.kube.settings import DiscoverySettings
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
) -> list[ProbeConfig]:
    """The probes for every annotated object, sorted by name (a problem probe where invalid)."""
    probes: list[ProbeConfig] = []
    for kind, objects in (("service", services), ("ingress", ingresses)):
        for obj in objects:
            if wants_probe(obj):
                probes.append(_probe(http_config, kind, obj, namespace, settings))
    return sorted(probes, key=lambda probe: probe.name)


def problem(name: str, source: str, reason: str) -> DiscoveryProblem:
    return DiscoveryProblem(name=name, kind="discovery", source=source, reason=reason)


def _probe(
    http_config: type[ProbeConfig],
    kind: str,
    obj: Object,
    namespace: str,
    settings: DiscoverySettings,
) -> ProbeConfig:
    object_name = str(obj["metadata"]["name"])
    name = probe_name(kind, object_name)
    source = f"{kind}/{object_name}"
    annotations = _annotations(obj)
    try:
        fields = _fields(annotations)
        if kind == "service":
            url = service_url(obj, annotations, namespace, settings)
        else:
            url = ingress_url(obj, annotations)
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
    return config


def _annotations(obj: Mapping[str, Any]) -> dict[str, str]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in annotations.items()}


def _fields(annotations: Mapping[str, str]) -> dict[str, Any]:
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
        if short == "expected-codes":
            fields["expect_status"] = [_code(part) for part in text.split(",") if part.strip()]
        elif short in FIELDS:
            fields[FIELDS[short]] = text.strip()
    return fields


def _code(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.isdigit() else text


def service_url(
    service: Object, annotations: Mapping[str, str], namespace: str, settings: DiscoverySettings
) -> str:
    name = service["metadata"]["name"]
    spec = service.get("spec") or {}
    port = _service_port(spec.get("ports") or [], annotations.get(PREFIX + "port"))
    scheme = _scheme(annotations, _looks_tls(port))
    host = f"{name}.{namespace}.svc.{settings.cluster_domain}"
    cluster_ip = str(spec.get("clusterIP") or "")
    if settings.address == "cluster-ip" and _is_ip(cluster_ip):
        host = f"[{cluster_ip}]" if ":" in cluster_ip else cluster_ip
    return f"{scheme}://{host}:{port['port']}{_path(annotations)}"


def ingress_url(ingress: Object, annotations: Mapping[str, str]) -> str:
    spec = ingress.get("spec") or {}
    hosts = [str(rule["host"]) for rule in spec.get("rules") or [] if rule.get("host")]
    host = annotations.get(PREFIX + "host", "").strip() or (hosts[0] if hosts else "")
    if not host:
        raise AnnotationError(f"the ingress has no host rule: set {PREFIX}host")
    tls_hosts = {str(h) for tls in spec.get("tls") or [] for h in tls.get("hosts") or []}
    scheme = _scheme(annotations, host in tls_hosts)
    port = annotations.get(PREFIX + "port", "").strip()
    if port and not port.isdigit():
        raise AnnotationError(f"{PREFIX}port on an ingress must be a number, not {port!r}")
    return f"{scheme}://{host}{':' + port if port else ''}{_path(annotations)}"


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
