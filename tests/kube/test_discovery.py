"""Annotated services and ingresses become http probes; bad annotations become UNKNOWN probes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from exporter.kube.discovery import discovered_probes, probe_name
from exporter.kube.problem import DiscoveryProblem
from exporter.kube_settings import DiscoverySettings
from exporter.probe_api import ProbeConfig
from exporter.registry import default_registry

HTTP = default_registry().get("http").config


def service(
    name: str, ports: list[dict[str, Any]] | None = None, /, **annotations: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "clusterIP": "10.96.4.7",
            "ports": ports if ports is not None else [{"name": "http", "port": 8080}],
        },
    }


def ingress(
    name: str, hosts: list[str], tls: tuple[str, ...] = (), /, **annotations: str
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "rules": [{"host": host} for host in hosts],
            "tls": [{"hosts": list(tls)}] if tls else [],
        },
    }


def probes(
    services: Sequence[Any] = (), ingresses: Sequence[Any] = (), **settings: Any
) -> dict[str, ProbeConfig]:
    found = discovered_probes(
        HTTP, services, ingresses, "shop", DiscoverySettings.model_validate(settings)
    )
    return {probe.name: probe for probe in found}


def test_only_annotated_objects_are_probed() -> None:
    found = probes(
        [
            service("web", **{"site-status.io/probe": "true"}),
            service("db"),
            service("cache", **{"site-status.io/probe": "false"}),
        ]
    )
    assert list(found) == ["service/web"]
    web = found["service/web"]
    assert web.kind == "http"
    assert web.url == "http://web.shop.svc.cluster.local:8080/"  # type: ignore[attr-defined]


def test_annotations_set_the_probe() -> None:
    found = probes(
        [
            service(
                "api",
                [{"name": "metrics", "port": 9100}, {"name": "web", "port": 8443}],
                **{
                    "site-status.io/probe": "true",
                    "site-status.io/port": "web",
                    "site-status.io/scheme": "https",
                    "site-status.io/path": "/actuator/health",
                    "site-status.io/format": "spring",
                    "site-status.io/expected-codes": "200, 3xx,500-503",
                    "site-status.io/critical": "false",
                    "site-status.io/interval": "30s",
                    "site-status.io/timeout": "5s",
                    "site-status.io/verify": "false",
                },
            )
        ],
        address="cluster-ip",
        allowed_annotations=["verify"],
    )
    api = found["service/api"]
    assert api.url == "https://10.96.4.7:8443/actuator/health"  # type: ignore[attr-defined]
    assert api.format == "spring"  # type: ignore[attr-defined]
    assert api.expect_status == (200, "3xx", "500-503")  # type: ignore[attr-defined]
    assert api.critical is False
    assert (api.interval, api.timeout) == (30.0, 5.0)
    assert api.verify is False  # type: ignore[attr-defined]


def test_a_port_named_https_or_443_is_probed_over_tls() -> None:
    found = probes(
        [service("tls", [{"name": "https", "port": 8443}], **{"site-status.io/probe": "true"})]
    )
    assert found["service/tls"].url.startswith("https://")  # type: ignore[attr-defined]


def test_ingress_probes_its_host() -> None:
    found = probes(
        ingresses=[
            ingress(
                "shop",
                ["shop.example", "www.shop.example"],
                ("shop.example",),
                **{"site-status.io/probe": "true", "site-status.io/path": "/healthz"},
            ),
            ingress(
                "legacy",
                ["old.example"],
                **{
                    "site-status.io/probe": "true",
                    "site-status.io/host": "legacy.example",
                    "site-status.io/port": "8080",
                },
            ),
        ],
        allowed_hosts=["legacy.example"],  # not a rule host of its ingress: the config allows it
    )
    assert found["ingress/shop"].url == "https://shop.example/healthz"  # type: ignore[attr-defined]
    assert found["ingress/legacy"].url == "http://legacy.example:8080/"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (
            service("multi", [{"name": "a", "port": 1}, {"name": "b", "port": 2}]),
            "the service has ports a=1, b=2: set site-status.io/port to one of them",
        ),
        (
            service("p", **{"site-status.io/port": "metrics"}),
            "site-status.io/port 'metrics' is not a port of the service (http=8080)",
        ),
        (
            service("f", **{"site-status.io/format": "xml"}),
            "site-status.io/format: Input should be",
        ),
        (
            service("c", **{"site-status.io/expected-codes": "2xx,6xx"}),
            "site-status.io/expected-codes:",
        ),
        (service("i", **{"site-status.io/interval": "soon"}), "site-status.io/interval:"),
        (service("r", **{"site-status.io/format": "regex"}), "format regex needs regex"),
        (service("s", **{"site-status.io/scheme": "ftp"}), 'site-status.io/scheme must be "http"'),
        (service("t", **{"site-status.io/pth": "/x"}), "unknown annotation site-status.io/pth"),
        (
            service("y", **{"site-status.io/path": "healthz"}),
            "site-status.io/path must start with /",
        ),
        (service("v", **{"site-status.io/critical": "maybe"}), "site-status.io/critical:"),
    ],
)
def test_invalid_annotations_are_a_problem_probe_with_the_reason(obj: Any, reason: str) -> None:
    obj["metadata"]["annotations"].setdefault("site-status.io/probe", "true")
    (found,) = probes([obj]).values()
    assert isinstance(found, DiscoveryProblem)
    assert found.kind == "discovery"
    assert found.name == f"service/{obj['metadata']['name']}"
    assert reason in found.reason
    assert found.reason.startswith(f"service/{obj['metadata']['name']}: ")


def test_a_probe_value_that_is_not_a_boolean_is_a_problem() -> None:
    (found,) = probes([service("x", **{"site-status.io/probe": "yes please"})]).values()
    assert isinstance(found, DiscoveryProblem)
    assert 'site-status.io/probe must be "true" or "false"' in found.reason


def test_an_ingress_without_a_host_is_a_problem() -> None:
    (found,) = probes(
        ingresses=[ingress("catchall", [], **{"site-status.io/probe": "true"})]
    ).values()
    assert isinstance(found, DiscoveryProblem)
    assert "no host rule" in found.reason


def test_long_names_stay_within_the_probe_name_limit() -> None:
    name = probe_name("ingress", "x" * 250)
    assert len(name) == 100
    assert name != probe_name("ingress", "x" * 249)
