"""Where a discovered probe may not go, unless the config allows the host by name.

Annotations are written by whoever may edit a Service or Ingress of the namespace; the exporter
must not become their request forger. Discovery only builds URLs from the annotated object
itself (its cluster name and ports, its rule hosts), and this guard refuses, on top of that:
loopback, link-local (cloud metadata at 169.254.169.254, fe80::/10), the unspecified address,
the API server (``kubernetes.default.svc`` and its names and addresses), and the exporter
itself (its host name and addresses). ``kubernetes.discovery.allowed_hosts`` lifts the guard
for the hosts it lists (names, addresses, or networks in CIDR form).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

FORBIDDEN_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(text)
    for text in (
        "127.0.0.0/8",  # loopback
        "::1/128",
        "169.254.0.0/16",  # link-local: cloud metadata (169.254.169.254), link-local services
        "fe80::/10",
        "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches loopback on Linux
        "::/128",
        "fd00:ec2::254/128",  # AWS instance metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud instance metadata
    )
)
#: Names that reach the same places whatever DNS says.
FORBIDDEN_NAMES = frozenset(
    {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "metadata",
        "metadata.google.internal",
    }
)


def normalize(host: str) -> str:
    """Lower case, no trailing dot, no IPv6 brackets."""
    return host.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def address_of(host: str) -> Address | None:
    """The address a host literally is, as the resolver reads it: ``127.1``, ``0x7f000001`` and
    ``2130706433`` are 127.0.0.1 to ``getaddrinfo`` (inet_aton), and an Ingress accepts them as
    host names (they are DNS labels and not IPs to Go's ``net.ParseIP``)."""
    text = normalize(host)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class TargetGuard:
    cluster_domain: str = "cluster.local"
    #: ``kubernetes.discovery.allowed_hosts``: names (exact), addresses or CIDR networks.
    allowed: tuple[str, ...] = ()
    #: The API server's host in the client's URL, ``KUBERNETES_SERVICE_HOST``, and the
    #: exporter's own host name and addresses.
    extra_names: frozenset[str] = frozenset()
    extra_addresses: frozenset[Address] = frozenset()
    _allowed_names: frozenset[str] = field(init=False)
    _allowed_networks: tuple[Network, ...] = field(init=False)

    def __post_init__(self) -> None:
        names, networks = set(), []
        for entry in self.allowed:
            try:
                network = ipaddress.ip_network(normalize(entry), strict=False)
            except ValueError:
                names.add(normalize(entry))
                continue
            mapped = getattr(network.network_address, "ipv4_mapped", None)
            if mapped is not None and network.prefixlen >= 96:  # as address_of reads them
                network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
            networks.append(network)
        object.__setattr__(self, "_allowed_names", frozenset(names))
        object.__setattr__(self, "_allowed_networks", tuple(networks))

    @classmethod
    def build(
        cls,
        cluster_domain: str,
        allowed: Iterable[str],
        api_hosts: Iterable[str] = (),
        own_hosts: Iterable[str] = (),
    ) -> TargetGuard:
        names: set[str] = set()
        addresses: set[Address] = set()
        for host in (*api_hosts, *own_hosts):
            if not host:
                continue
            address = address_of(host)
            if address is not None:
                addresses.add(address)
            else:
                names.add(normalize(host))
        return cls(cluster_domain, tuple(allowed), frozenset(names), frozenset(addresses))

    def allows(self, host: str) -> bool:
        """Whether the config lists this host (then nothing else is checked)."""
        name = normalize(host)
        if name in self._allowed_names:
            return True
        address = address_of(name)
        return address is not None and any(address in net for net in self._allowed_networks)

    def refusal(self, host: str) -> str | None:
        """Why a probe may not go to ``host``, or None."""
        if self.allows(host):
            return None
        name = normalize(host)
        address = address_of(name)
        if address is not None:
            for network in FORBIDDEN_NETWORKS:
                if address in network:
                    return f"{host} is a loopback, link-local or metadata address"
            if address in self.extra_addresses:
                return f"{host} is the API server or the exporter itself"
            return None
        if name in FORBIDDEN_NAMES or name.endswith(".localhost"):
            return f"{host} is the API server, a metadata service or this machine"
        if name == f"kubernetes.default.svc.{self.cluster_domain}" or name in self.extra_names:
            return f"{host} is the API server or the exporter itself"
        return None
