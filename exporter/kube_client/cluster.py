"""Where the Kubernetes API server is, how to trust it and how to authenticate to it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from exporter.kube_client.credentials import (
    Credentials,
    ExecCredentials,
    ExecPlugin,
    NoCredentials,
    StaticToken,
    TokenFile,
)
from exporter.outbound import TlsSettings, ssl_context


@dataclass(frozen=True)
class ClusterConfig:
    """Where the API server is, how to trust it and how to authenticate to it."""

    base_url: str
    namespace: str
    tls: TlsSettings = field(default_factory=TlsSettings)
    #: A file holding the bearer token (the service account's, or a kubeconfig ``tokenFile``).
    token_file: Path | None = None
    token: str | None = None
    exec_plugin: ExecPlugin | None = None
    #: Where this came from, for logs: "service account", "kubeconfig ... context ...".
    source: str = "service account"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl_context(self.tls)

    def credentials(self, tls: ssl.SSLContext | None) -> Credentials:
        if self.exec_plugin is not None:
            return ExecCredentials(self.exec_plugin, tls)
        if self.token:
            return StaticToken(self.token)
        if self.token_file is not None:
            return TokenFile(self.token_file)
        return NoCredentials()


class NotInCluster(Exception):
    """No API server known: not in a pod, no ``kubernetes.api_url``, no usable kubeconfig."""
