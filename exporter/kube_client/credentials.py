"""How requests to the API server authenticate: a bearer token (fixed, from a file that the
kubelet rotates, or from an exec credential plugin), or none.

A client certificate is not here: it goes into the TLS context (``tls.py``), except the one an
exec plugin hands out, which the plugin's credentials load into that context when they get it.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread

from exporter.secret_files import READ_TIMEOUT, SecretFileError, read_single_line

log = logging.getLogger(__name__)

#: How often the token file is looked at for a rotation.
TOKEN_CHECK_INTERVAL = 10.0
#: An exec plugin's token is renewed this long before it expires.
EXPIRY_MARGIN = 30.0
#: A plugin that has not answered by then (waiting for a browser login, say) has failed.
EXEC_TIMEOUT = 60.0
#: What a plugin may print (an ExecCredential with a certificate is a few KiB).
EXEC_OUTPUT_LIMIT = 1024 * 1024
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


class CredentialError(OSError):
    """No credentials could be had (an exec plugin failed); requests cannot be made."""


class Credentials(Protocol):
    async def headers(self, force: bool = False) -> dict[str, str]:
        """The headers to authenticate with; ``force``: after a 401, renew what can be renewed."""
        ...


class NoCredentials:
    """Nothing to send (``kubectl proxy`` adds the credentials; or a client certificate)."""

    async def headers(self, force: bool = False) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class StaticToken:
    token: str

    async def headers(self, force: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class TokenFile:
    """The bearer token, re-read when its file changes (checked every few seconds).

    A file that is not there is a mode, not an error: behind ``kubectl proxy`` (plain HTTP, the
    proxy authenticates) there is no token, and requests go without one. That is said once;
    so is any change (the file appears, goes, cannot be read), never once per check.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._token = ""
        self._stamp: tuple[int, int] | None = None
        self._checked_at = -TOKEN_CHECK_INTERVAL
        self._problem: str | None = None

    async def token(self, force: bool = False) -> str:
        now = time.monotonic()
        if force or now - self._checked_at >= TOKEN_CHECK_INTERVAL:
            self._checked_at = now
            # In a worker thread with a deadline: the file may sit on a hung mount.
            try:
                with anyio.fail_after(READ_TIMEOUT):
                    await anyio.to_thread.run_sync(self._read, force, abandon_on_cancel=True)
            except TimeoutError:
                self._say("hung", logging.ERROR, "the token file %s does not answer", self.path)
        return self._token

    async def headers(self, force: bool = False) -> dict[str, str]:
        token = await self.token(force)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _read(self, force: bool) -> None:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_ino)
            if force or stamp != self._stamp:
                self._token = read_single_line(self.path, "bearer token")
                self._stamp = stamp
        except FileNotFoundError:
            had_token = bool(self._token)
            self._token, self._stamp = "", None
            if had_token:
                self._say("missing", logging.WARNING, "the token file %s is gone", self.path)
            else:
                self._say(
                    "missing",
                    logging.INFO,
                    "no token file %s: requests carry no token (as through kubectl proxy)",
                    self.path,
                )
            return
        except OSError as error:  # SecretFileError says which file and why, never its bytes
            reason = str(error) if isinstance(error, SecretFileError) else error.strerror
            self._say(str(reason), logging.ERROR, "cannot use the token: %s", reason)
            return
        if self._problem is not None:
            log.info("kubernetes token read from %s", self.path)
            self._problem = None

    def _say(self, problem: str, level: int, message: str, *args: object) -> None:
        if problem != self._problem:
            log.log(level, message, *args)
            self._problem = problem


@dataclass(frozen=True)
class ExecPlugin:
    """A kubeconfig ``user.exec``: a command that prints an ExecCredential."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = EXEC_API_VERSIONS[0]
    interactive_mode: str = "IfAvailable"
    #: The cluster's ``server`` and CA for ``KUBERNETES_EXEC_INFO``, when the plugin asks for it.
    cluster: Mapping[str, Any] | None = None


@dataclass
class ExecCredentials:
    """Runs the plugin when there is no token yet, when it expired, and after a 401.

    Its ``status.token`` is sent as a bearer token; a ``clientCertificateData`` and
    ``clientKeyData`` pair is loaded into the TLS context (new connections use it).
    """

    plugin: ExecPlugin
    tls: ssl.SSLContext | None
    _token: str = ""
    _expires: float | None = None
    _has_certificate: bool = False
    _lock: anyio.Lock = field(default_factory=anyio.Lock)
    runs: int = 0

    async def headers(self, force: bool = False) -> dict[str, str]:
        async with self._lock:
            if force or not self._fresh():
                await self._run()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _fresh(self) -> bool:
        if not self._token and not self._has_certificate:
            return False
        return self._expires is None or time.time() < self._expires - EXPIRY_MARGIN

    async def _run(self) -> None:
        plugin = self.plugin
        if plugin.interactive_mode == "Always":
            raise CredentialError(
                f"the exec plugin {plugin.command} needs an interactive terminal "
                "(interactiveMode: Always); the exporter has none"
            )
        spec: dict[str, Any] = {"interactive": False}
        if plugin.cluster is not None:
            spec["cluster"] = dict(plugin.cluster)
        info = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
        self.runs += 1
        # In a worker thread with subprocess.run (which kills the plugin at the timeout), not
        # through asyncio's subprocess transports: rare, it runs once an hour or so.
        command = [plugin.command, *plugin.args]
        try:
            done = await anyio.to_thread.run_sync(_run_plugin, command, env)
        except subprocess.TimeoutExpired:
            raise CredentialError(
                f"the exec plugin {plugin.command} did not answer within {EXEC_TIMEOUT:.0f} s"
            ) from None
        except OSError as error:
            raise CredentialError(f"cannot run the exec plugin {plugin.command}: {error}") from None
        if done.returncode != 0:
            why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise CredentialError(
                f"the exec plugin {plugin.command} exited with {done.returncode}: {why[0][:200]}"
            )
        self._take(parse_exec_credential(done.stdout[:EXEC_OUTPUT_LIMIT], plugin))

    def _take(self, status: ExecStatus) -> None:
        self._token = status.token
        self._expires = status.expires
        if status.certificate is not None:
            if self.tls is None:
                raise CredentialError("the exec plugin gave a client certificate for plain HTTP")
            from exporter.outbound import load_client_certificate

            load_client_certificate(self.tls, *status.certificate)
            self._has_certificate = True


def _run_plugin(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=EXEC_TIMEOUT,
        check=False,
    )


@dataclass(frozen=True)
class ExecStatus:
    token: str
    #: PEM certificate and key.
    certificate: tuple[bytes, bytes] | None
    #: Unix time, or None: valid until the server says otherwise (a 401).
    expires: float | None


def parse_exec_credential(output: bytes, plugin: ExecPlugin) -> ExecStatus:
    """The ``status`` of the ExecCredential a plugin printed; ``CredentialError`` if unusable."""
    where = f"the exec plugin {plugin.command}"
    try:
        document = json.loads(output)
    except ValueError:
        raise CredentialError(f"{where} printed no JSON ExecCredential") from None
    if not isinstance(document, dict) or document.get("kind") != "ExecCredential":
        raise CredentialError(f"{where} printed something else than an ExecCredential")
    if document.get("apiVersion") != plugin.api_version:
        raise CredentialError(
            f"{where} answered {str(document.get('apiVersion'))[:80]!r}, "
            f"not the {plugin.api_version} it was asked for"
        )
    status = document.get("status")
    if not isinstance(status, dict):
        raise CredentialError(f"{where}: the ExecCredential has no status")
    token = status.get("token") or ""
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if (
        not isinstance(token, str)
        or not isinstance(cert or "", str)
        or not isinstance(key or "", str)
    ):
        raise CredentialError(f"{where}: token and certificate data must be strings")
    if token and not _header_safe(token):
        raise CredentialError(f"{where}: the token holds line breaks, controls or non-ASCII")
    if bool(cert) != bool(key):
        raise CredentialError(f"{where}: clientCertificateData and clientKeyData go together")
    if not token and not cert:
        raise CredentialError(f"{where}: the ExecCredential has neither a token nor a certificate")
    return ExecStatus(
        token=token,
        certificate=(str(cert).encode(), str(key).encode()) if cert else None,
        expires=_expiry(status.get("expirationTimestamp"), where),
    )


def _expiry(value: object, where: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError, OSError):
        raise CredentialError(
            f"{where}: expirationTimestamp {str(value)[:40]!r} is not RFC 3339"
        ) from None


def _header_safe(token: str) -> bool:
    """A token httpx can send: visible ASCII on one line (its error for any other quotes the
    whole header value)."""
    return token.isascii() and token.isprintable()
