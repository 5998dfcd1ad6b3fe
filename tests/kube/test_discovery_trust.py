"""Annotations cannot aim the exporter anywhere: a discovered probe goes only to the annotated
object itself, never to loopback, link-local (cloud metadata), the API server or the exporter,
unless the config allows the host; TLS verification off and regexes only when the config allows
those annotations. And discovery probes what the site really serves: a wildcard ingress host is
never probed as such, a headless Service on its target port, an ExternalName on its target."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.kube.discovery import discovered_probes
from exporter.kube.problem import DiscoveryProblem
from exporter.kube.targets import TargetGuard, address_of
from exporter.kube_settings import DiscoverySettings
from exporter.probe_api import ProbeConfig
from tests.kube.test_discovery import HTTP, ingress, service

PROBE = {"site-status.io/probe": "true"}


def one(
    obj: dict[str, Any], kind: str = "service", guard: TargetGuard | None = None, **config: Any
) -> ProbeConfig:
    discovery = DiscoverySettings.model_validate(config)
    services, ingresses = ([obj], []) if kind == "service" else ([], [obj])
    (found,) = discovered_probes(HTTP, services, ingresses, "shop", discovery, guard)
    return found


def refused(found: ProbeConfig, why: str) -> None:
    assert isinstance(found, DiscoveryProblem), found
    assert why in found.reason, found.reason


def url(found: ProbeConfig) -> str:
    assert not isinstance(found, DiscoveryProblem), found.reason
    return str(found.url)  # type: ignore[attr-defined]


# --- where a probe may go -------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",  # cloud metadata
        "metadata.google.internal",
        "localhost",
        "api.localhost",
        "127.0.0.1",
        "127.1",  # inet_aton forms: getaddrinfo reads them as 127.0.0.1
        "2130706433",
        "0x7f000001",
        "0.0.0.0",
        "[::1]",
        "[fe80::1]",
        "[::ffff:169.254.169.254]",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "KUBERNETES.DEFAULT.SVC.",
    ],
)
def test_an_ingress_host_annotation_cannot_point_at_forbidden_places(host: str) -> None:
    obj = ingress("shop", ["*.shop.example"], **PROBE, **{"site-status.io/host": host})
    refused(one(obj, "ingress"), "is not a host of the ingress")
    # Even listed as the ingress's own rule host, these are never probed...
    own = ingress("shop", [host.strip("[]")], **PROBE)
    refused(one(own, "ingress"), "not probed")
    # ...unless the config allows the host by name.
    assert urlsplit(url(one(own, "ingress", allowed_hosts=[host.strip("[]")]))).hostname


def test_the_host_annotation_picks_one_of_the_ingresss_own_hosts() -> None:
    obj = ingress(
        "shop", ["shop.example", "*.shop.example"], **PROBE, **{"site-status.io/host": "elsewhere"}
    )
    refused(one(obj, "ingress"), "'elsewhere' is not a host of the ingress")
    obj["metadata"]["annotations"]["site-status.io/host"] = "www.shop.example"  # the wildcard's
    assert url(one(obj, "ingress")) == "http://www.shop.example/"
    obj["metadata"]["annotations"]["site-status.io/host"] = "a.b.shop.example"  # one label only
    refused(one(obj, "ingress"), "is not a host of the ingress")


def test_an_ingress_port_other_than_80_or_443_needs_an_allowed_host() -> None:
    obj = ingress("shop", ["shop.example"], **PROBE, **{"site-status.io/port": "22"})
    refused(one(obj, "ingress"), "an ingress is served on 80 and 443")
    assert url(one(obj, "ingress", allowed_hosts=["shop.example"])) == "http://shop.example:22/"
    obj["metadata"]["annotations"]["site-status.io/port"] = "443"
    assert url(one(obj, "ingress")) == "http://shop.example:443/"


def test_the_api_server_and_the_exporter_itself_are_never_probed() -> None:
    guard = TargetGuard.build(
        "cluster.local",
        (),
        api_hosts=["10.96.0.1", "api.cluster.example"],
        own_hosts=["site-status-7d9f-abcde", "10.244.1.7", "site-status.shop.svc.cluster.local"],
    )
    at_api = service("sneaky", **PROBE)
    at_api["spec"]["clusterIP"] = "10.96.0.1"
    refused(one(at_api, guard=guard, address="cluster-ip"), "the API server or the exporter")
    refused(one(service("site-status", **PROBE), guard=guard), "the API server or the exporter")
    for host in ("api.cluster.example", "site-status-7d9f-abcde", "10.244.1.7"):
        refused(one(ingress("x", [host], **PROBE), "ingress", guard), "the API server or")
    assert url(one(service("web", **PROBE), guard=guard)) == (
        "http://web.shop.svc.cluster.local:8080/"
    )


def test_the_kubernetes_service_of_the_default_namespace_is_the_api_server() -> None:
    found = discovered_probes(
        HTTP, [service("kubernetes", **PROBE)], [], "default", DiscoverySettings()
    )
    refused(found[0], "kubernetes.default.svc.cluster.local is the API server")


def test_an_external_name_service_is_probed_only_when_its_target_is_allowed() -> None:
    obj = service("payments", [], **PROBE, **{"site-status.io/port": "443"})
    obj["spec"] = {"type": "ExternalName", "externalName": "pay.provider.example"}
    refused(one(obj), "points outside the cluster, at pay.provider.example")
    allowed = one(obj, allowed_hosts=["pay.provider.example"])
    # No ports on the Service: the annotation's port is taken; 443 means TLS.
    assert url(allowed) == "https://pay.provider.example:443/"
    del obj["metadata"]["annotations"]["site-status.io/port"]
    refused(one(obj, allowed_hosts=["pay.provider.example"]), "has no ports: set site-status.io")
    obj["spec"]["ports"] = [{"name": "http", "port": 8080}]
    assert url(one(obj, allowed_hosts=["pay.provider.example"])) == (
        "http://pay.provider.example:8080/"
    )


def test_allowed_hosts_take_networks_too() -> None:
    obj = service("web", **PROBE)
    obj["spec"]["clusterIP"] = "127.0.0.1"
    refused(one(obj, address="cluster-ip"), "loopback")
    assert url(one(obj, address="cluster-ip", allowed_hosts=["127.0.0.0/8"])) == (
        "http://127.0.0.1:8080/"
    )


# --- what annotations may set ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotations", "name"),
    [
        ({"site-status.io/verify": "false"}, "verify"),
        ({"site-status.io/verify": "False"}, "verify"),
        ({"site-status.io/format": "regex", "site-status.io/regex": "iamalive"}, "regex"),
    ],
)
def test_tls_verification_off_and_regexes_need_the_configs_permission(
    annotations: dict[str, str], name: str
) -> None:
    obj = service("web", **PROBE, **annotations)
    refused(one(obj), f"add {name!r} to kubernetes.discovery.allowed_annotations")
    assert url(one(obj, allowed_annotations=[name]))


def test_verification_on_needs_no_permission() -> None:
    assert url(one(service("web", **PROBE, **{"site-status.io/verify": "true"})))


# --- probing what the site serves -----------------------------------------------------------


def test_a_wildcard_first_rule_is_passed_over_for_a_concrete_host() -> None:
    obj = ingress("shop", ["*.shop.example", "shop.example"], ("*.shop.example",), **PROBE)
    assert url(one(obj, "ingress")) == "http://shop.example/"


def test_an_ingress_with_only_wildcard_hosts_says_to_name_one() -> None:
    obj = ingress("shop", ["*.shop.example"], ("*.shop.example",), **PROBE)
    refused(one(obj, "ingress"), "the ingress's hosts are wildcards (*.shop.example)")
    obj["metadata"]["annotations"]["site-status.io/host"] = "www.shop.example"
    assert url(one(obj, "ingress")) == "https://www.shop.example/"  # the wildcard's TLS


def test_a_headless_service_is_probed_on_its_target_port() -> None:
    """Its name resolves to pod IPs: no proxy maps the Service port to the pod's."""
    obj = service("web", [{"name": "http", "port": 80, "targetPort": 8080}], **PROBE)
    obj["spec"]["clusterIP"] = "None"
    assert url(one(obj)) == "http://web.shop.svc.cluster.local:8080/"
    assert url(one(obj, address="cluster-ip")) == "http://web.shop.svc.cluster.local:8080/"
    obj["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": "web"}]
    refused(one(obj), "named targetPort 'web'")
    obj["spec"]["ports"] = [{"name": "http", "port": 80}]  # no targetPort: the port itself
    assert url(one(obj)) == "http://web.shop.svc.cluster.local:80/"


# --- the property: wherever an annotation points, the probe goes only where allowed -----------

HOSTS = st.sampled_from(
    [
        "shop.example",
        "www.shop.example",
        "evil.example",
        "169.254.169.254",
        "localhost",
        "127.1",
        "kubernetes.default.svc",
        "[::1]",
        "10.96.0.1",
    ]
)
ANNOTATION_VALUES = st.one_of(HOSTS, st.text(max_size=30), st.sampled_from(["80", "443", "22"]))
ANNOTATIONS = st.dictionaries(
    st.sampled_from(
        [
            "site-status.io/host",
            "site-status.io/port",
            "site-status.io/scheme",
            "site-status.io/path",
            "site-status.io/verify",
            "site-status.io/regex",
            "site-status.io/format",
            "site-status.io/extra",
        ]
    ),
    ANNOTATION_VALUES,
    max_size=5,
)


@settings(max_examples=200, deadline=2000, database=None)
@given(
    annotations=ANNOTATIONS,
    rule_hosts=st.lists(HOSTS, max_size=3),
    external=HOSTS,
    cluster_ip=st.sampled_from(["10.96.4.7", "127.0.0.1", "169.254.169.254", "None", ""]),
    kind=st.sampled_from(["service", "external", "ingress"]),
)
def test_no_annotation_sends_a_probe_where_it_may_not_go(
    annotations: dict[str, str], rule_hosts: list[str], external: str, cluster_ip: str, kind: str
) -> None:
    guard = TargetGuard.build("cluster.local", (), api_hosts=["10.96.0.1"])
    if kind == "ingress":
        obj = ingress("shop", rule_hosts, **PROBE, **annotations)
        own = {h.strip("[]").lower() for h in rule_hosts} | {
            "www.shop.example" for h in rule_hosts if h == "*.shop.example"
        }
    else:
        obj = service("web", **PROBE, **annotations)
        obj["spec"]["clusterIP"] = cluster_ip
        if kind == "external":
            obj["spec"] = {"type": "ExternalName", "externalName": external}
        own = {"web.shop.svc.cluster.local", "10.96.4.7"}
    found = discovered_probes(
        HTTP,
        [obj] if kind != "ingress" else [],
        [obj] if kind == "ingress" else [],
        "shop",
        DiscoverySettings(address="cluster-ip"),
        guard,
    )[0]
    if isinstance(found, DiscoveryProblem):
        return
    probe_url = urlsplit(str(found.url))  # type: ignore[attr-defined]
    host = probe_url.hostname or ""
    assert host in own, (host, own)
    assert guard.refusal(host) is None
    assert found.verify is True  # type: ignore[attr-defined]
    assert found.regex is None  # type: ignore[attr-defined]
    if kind == "ingress":
        assert probe_url.port in (None, 80, 443)


def test_address_forms_are_read_as_the_resolver_reads_them() -> None:
    assert str(address_of("127.1")) == "127.0.0.1"
    assert str(address_of("0x7f000001")) == "127.0.0.1"
    assert str(address_of("[::ffff:127.0.0.1]")) == "127.0.0.1"
    assert address_of("shop.example") is None


SHAPES = st.recursive(
    st.none() | st.booleans() | st.integers(-1, 70000) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ports",
                    "port",
                    "targetPort",
                    "name",
                    "clusterIP",
                    "type",
                    "externalName",
                    "rules",
                    "host",
                    "tls",
                    "hosts",
                    "appProtocol",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=200, deadline=2000, database=None)
@given(spec=SHAPES, kind=st.sampled_from(["service", "ingress"]))
def test_an_object_of_any_shape_is_a_probe_or_a_reason(spec: object, kind: str) -> None:
    """What the API sends is validated by a real server, but a proxy or a bug may not be: any
    shape of spec gives a probe or an UNKNOWN problem, never an exception."""
    obj = {"metadata": {"name": "x", "annotations": dict(PROBE)}, "spec": spec}
    services, ingresses = ([obj], []) if kind == "service" else ([], [obj])
    (found,) = discovered_probes(HTTP, services, ingresses, "shop", DiscoverySettings())
    assert isinstance(found, DiscoveryProblem) or str(found.url).startswith("http")  # type: ignore[attr-defined]
