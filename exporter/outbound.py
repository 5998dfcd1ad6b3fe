"""Outbound HTTP: the one way the exporter makes a TLS context and an httpx client, for each of
its clients (the http probe, the Kubernetes API client, the Loki pusher).

Every client ignores the environment's proxies and CA overrides (``trust_env=False``: a pod's
``HTTP_PROXY`` must not sit between the exporter and a service it probes, its API server or
Loki), and a client that will never speak TLS gets no context (httpx's default would load its
CA bundle for nothing).

X.509 strictness. Python 3.13 added ``VERIFY_X509_STRICT`` to ``ssl.create_default_context()``.
OpenSSL then refuses a CA certificate without a key usage extension ("CA cert does not include
key usage extension"), and private CAs made by older tools have none: MicroK8s's cluster CA
until 2026 (canonical/microk8s#4864, fixed by #5537 for new clusters only), and others made
with a bare ``openssl req -x509``. Kubernetes clients hit it (tomplus/kubernetes_asyncio#350
added an option to clear the flag). A CA given in the config (``ca_file``, a pod's ``ca.crt``,
a kubeconfig's) is a private trust anchor for the servers it is given for, not a public root,
so for it we clear that one flag and keep everything else: the chain is verified, the host
name checked. With no CA of its own (the system's roots) Python's default stays.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import TYPE_CHECKING

from exporter.secret_files import MAX_PEM_BYTES, read_ca_text, read_secret_bytes

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class TlsSettings:
    """What a client's TLS context is made of; PEM data or files."""

    ca_file: Path | None = None
    ca_data: bytes | None = None
    #: No verification at all (a probe's ``verify: false``, kubeconfig's
    #: ``insecure-skip-tls-verify``, Loki's ``insecure_skip_verify``).
    insecure: bool = False
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None


def ssl_context(settings: TlsSettings) -> ssl.SSLContext:
    """A client context: the system CAs or the given CA, an optional client certificate;
    ``insecure`` checks neither the chain nor the host name."""
    if settings.ca_data is not None:
        context = ssl.create_default_context(cadata=settings.ca_data.decode("ascii", "replace"))
    elif settings.ca_file is not None:
        # Read through the secret-file reader: ``cafile=`` lets OpenSSL open a FIFO or a
        # device itself, and wait on it or read it without end.
        context = ssl.create_default_context(cadata=read_ca_text(settings.ca_file))
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
        cert = read_secret_bytes(settings.client_cert_file, MAX_PEM_BYTES)
        key = (
            read_secret_bytes(settings.client_key_file, MAX_PEM_BYTES)
            if settings.client_key_file
            else b""
        )
        load_client_certificate(context, cert, key)
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


def http_client(
    tls: ssl.SSLContext | None,
    timeout: httpx.Timeout | float | None,
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    max_redirects: int = 20,
    cookies: CookieJar | None = None,
    keepalive: int = 20,
    on_asyncio: bool = False,
) -> httpx.AsyncClient:
    """A keep-alive client; ``tls`` None for one that never speaks TLS (plain ``http://``, no
    redirects followed to ``https://``). ``on_asyncio``: HTTP/1.1 on the exporter's own asyncio
    transport (``exporter.asyncio_transport``, the http probe's), not httpx's default."""
    import httpx  # here: a config with no HTTP client of any kind never loads it

    transport: httpx.AsyncBaseTransport
    if on_asyncio:
        from exporter.asyncio_transport import AsyncioTransport

        transport = AsyncioTransport(tls or ssl.create_default_context(), keepalive)
    else:
        transport = httpx.AsyncHTTPTransport(
            verify=tls if tls is not None else False,
            limits=httpx.Limits(max_keepalive_connections=keepalive),
            trust_env=False,
        )
    return httpx.AsyncClient(
        transport=transport,
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        max_redirects=max_redirects,
        cookies=cookies,
        trust_env=False,
    )
