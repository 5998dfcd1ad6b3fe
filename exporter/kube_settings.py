"""The ``kubernetes:`` config block."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from exporter.probe_api import Duration

#: Where Kubernetes mounts a pod's service account token, CA certificate and namespace.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscoverySettings(_Strict):
    #: Services annotated ``site-status.io/probe: "true"`` become http probes.
    services: bool = True
    #: Ingresses annotated the same way become http probes of their host.
    ingresses: bool = True
    #: How a service is addressed: its DNS name, or its cluster IP (no DNS lookup per run).
    address: Literal["dns", "cluster-ip"] = "dns"
    cluster_domain: str = "cluster.local"
    #: Hosts a discovered probe may reach although they are not the annotated object's own, or
    #: are refused (loopback, link-local, the API server, the exporter): an ExternalName's
    #: target, a ``site-status.io/host`` elsewhere. Names (exact), addresses or CIDR networks.
    allowed_hosts: tuple[str, ...] = ()
    #: Annotations only the config can allow: ``verify`` (to turn TLS verification off) and
    #: ``regex`` (a pattern of the annotator's choosing).
    allowed_annotations: tuple[Literal["verify", "regex"], ...] = ()


class EventSettings(_Strict):
    #: Kubernetes Events when the site rollup turns CRITICAL and when it recovers.
    enabled: bool = True
    #: At most one Event per this interval; the state at its end is reported then.
    min_interval: Duration = Field(default=300.0, ge=0)
    #: How often the rollup is looked at.
    check_interval: Duration = Field(default=5.0, gt=0)


class KubernetesSettings(_Strict):
    enabled: bool = False
    #: The namespace to watch; default: the service account's (the pod's own).
    namespace: str | None = None
    #: The API server; default ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``.
    api_url: str | None = None
    #: Token, CA certificate and namespace files (tests point this elsewhere).
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    #: Outside a pod: kubeconfig file(s), ``:``-separated and merged as kubectl does; default
    #: ``$KUBECONFIG``, then ``~/.kube/config``. Setting this or ``context`` prefers the
    #: kubeconfig to the service account even in a pod.
    kubeconfig: str | None = None
    #: The kubeconfig context to use (default: its ``current-context``); ``--context``.
    context: str | None = None
    #: The exporter's own Deployment: Events are about it, and its annotation
    #: ``site-status.io/maintenance-until`` declares maintenance. Empty: neither.
    deployment: str = "site-status"
    #: How often the Deployment's annotations are read.
    maintenance_poll_interval: Duration = Field(default=30.0, gt=0)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    events: EventSettings = Field(default_factory=EventSettings)
