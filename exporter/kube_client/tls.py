"""The TLS context for the API server: its CA, a client certificate, and X.509 strictness.

Python 3.13 added ``VERIFY_X509_STRICT`` to ``ssl.create_default_context()``. OpenSSL then
refuses a CA certificate without a key usage extension ("CA cert does not include key usage
extension"), and cluster CAs made by older tools have none: MicroK8s's until 2026
(canonical/microk8s#4864, fixed by #5537 for new clusters only), and others made with a bare
``openssl req -x509``. Kubernetes clients hit it (tomplus/kubernetes_asyncio#350 added an
option to clear the flag). The cluster CA is a private trust anchor given to us for this one
server (the pod's ``ca.crt`` or the kubeconfig's), not a public root, so for it we clear that
one flag and keep everything else: the chain is verified, the host name checked. With no
cluster CA (the system's roots) Python's default stays.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsSettings:
    """What the TLS context is made of; PEM data or files."""

    ca_file: Path | None = None
    ca_data: bytes | None = None
    #: kubeconfig ``insecure-skip-tls-verify``: no verification at all.
    insecure: bool = False
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None


def cluster_ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    if settings.ca_data is not None:
        context = ssl.create_default_context(cadata=settings.ca_data.decode("ascii", "replace"))
    elif settings.ca_file is not None:
        context = ssl.create_default_context(cafile=str(settings.ca_file))
    else:
        context = ssl.create_default_context()
    if settings.ca_data is not None or settings.ca_file is not None:
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if settings.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.client_cert_data is not None and settings.client_key_data is not None:
        load_client_certificate(context, settings.client_cert_data, settings.client_key_data)
    elif settings.client_cert_file is not None:
        context.load_cert_chain(
            str(settings.client_cert_file),
            str(settings.client_key_file) if settings.client_key_file else None,
        )
    return context


def load_client_certificate(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``load_cert_chain`` takes files only: the PEM goes through a private temporary file,
    removed at once."""
    with tempfile.TemporaryDirectory(prefix="site-status-tls-") as directory:
        path = Path(directory) / "client.pem"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(cert_pem.rstrip() + b"\n" + key_pem)
        try:
            context.load_cert_chain(str(path))
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
