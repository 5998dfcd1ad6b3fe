"""Finding the API server: an explicit URL, a kubeconfig, or the pod's service account."""

from __future__ import annotations

import os
from pathlib import Path

from exporter.kube_client.cluster import ClusterConfig, NotInCluster
from exporter.kube_client.kubeconfig import KubeconfigError, cluster_config
from exporter.kube_settings import SERVICE_ACCOUNT_DIR, KubernetesSettings
from exporter.outbound import TlsSettings


def find_cluster(settings: KubernetesSettings) -> ClusterConfig:
    """An explicit ``api_url`` (with the service account directory's files where present);
    else a kubeconfig when the config names one or a context; else, in a pod, the service
    account; else ``KUBECONFIG`` or ``~/.kube/config``."""
    if settings.api_url:
        return _service_account(settings, settings.api_url)
    if settings.kubeconfig or settings.context:
        return _from_kubeconfig(settings)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return _service_account(settings, _service_url())
    return _from_kubeconfig(settings)


def _service_account(settings: KubernetesSettings, base_url: str) -> ClusterConfig:
    account = Path(settings.service_account_dir)
    namespace = settings.namespace or _read_namespace(account / "namespace")
    ca_file = account / "ca.crt"
    return ClusterConfig(
        base_url.rstrip("/"),
        namespace,
        tls=TlsSettings(ca_file=ca_file if ca_file.exists() else None),
        token_file=account / "token",
    )


def cluster_from_environment() -> ClusterConfig:
    """In a pod: the service account; ``SITE_STATUS_KUBERNETES__*`` variables override."""
    env = os.environ
    settings = KubernetesSettings(
        api_url=env.get("SITE_STATUS_KUBERNETES__API_URL") or None,
        namespace=env.get("SITE_STATUS_KUBERNETES__NAMESPACE") or None,
        service_account_dir=env.get("SITE_STATUS_KUBERNETES__SERVICE_ACCOUNT_DIR")
        or SERVICE_ACCOUNT_DIR,
        kubeconfig=env.get("SITE_STATUS_KUBERNETES__KUBECONFIG") or None,
        context=env.get("SITE_STATUS_KUBERNETES__CONTEXT") or None,
    )
    return find_cluster(settings)


def _from_kubeconfig(settings: KubernetesSettings) -> ClusterConfig:
    try:
        return cluster_config(settings)
    except KubeconfigError as error:
        raise NotInCluster(str(error)) from None


def _service_url() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise NotInCluster("KUBERNETES_SERVICE_HOST is not set and kubernetes.api_url is empty")
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"https://{host}:{port}"


def _read_namespace(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as error:
        raise NotInCluster(f"no kubernetes.namespace and cannot read {path}: {error}") from None
