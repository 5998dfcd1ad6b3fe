"""A small Kubernetes API client over httpx: get, list, watch, create.

In a pod it finds the API server from ``KUBERNETES_SERVICE_HOST``/``_PORT`` and authenticates
with the service account token, re-read when the kubelet rotates it (bound tokens live about an
hour) and at once after a 401. Outside a pod it reads a kubeconfig (``locate.py``). Errors are
``ApiError`` with the API's own ``Status`` (code, reason, message); a watch that fell out of the
server's history raises ``ResourceGone``.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from exporter.kube_client import permissions
from exporter.kube_client.cluster import ClusterConfig, NotInCluster
from exporter.kube_client.locate import cluster_from_environment
from exporter.kube_client.permissions import Permission
from exporter.outbound import http_client
from exporter.redact import credential_secrets, masked, remember_secrets

log = logging.getLogger(__name__)

#: A watch asks the server to end it after this long; the client then watches again from where
#: it was. Shorter than typical load balancer idle timeouts.
WATCH_TIMEOUT_SECONDS = 290
REQUEST_TIMEOUT = 10.0
#: The key of the one shared client in the probe runtime (``ProbeRuntime.shared``).
CLIENT_KEY = ("kubernetes", "client")

Object = dict[str, Any]


class ApiError(Exception):
    """The API server answered with an error ``Status``."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        self.code = code
        self.reason = reason
        self.message = message
        super().__init__(f"{code} {reason}: {message}" if message else f"{code} {reason}")

    @classmethod
    def from_status(cls, code: int, status: Any) -> ApiError:
        if isinstance(status, dict):
            code = int(status.get("code") or code)
            reason = str(status.get("reason") or httpx.codes.get_reason_phrase(code))
            message = str(status.get("message") or "")
        else:
            reason, message = httpx.codes.get_reason_phrase(code), ""
        error_class = ResourceGone if code == 410 else ApiError
        return error_class(code, reason, message[:300])


class ResourceGone(ApiError):
    """410: the resourceVersion is older than the server's history; list again."""


@dataclass(frozen=True, slots=True)
class Resource:
    """A namespaced API resource: ``("apps", "v1", "deployments")``."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        path = f"{prefix}/namespaces/{namespace}/{self.plural}"
        if name is not None:
            path += f"/{name}"
        if subresource is not None:
            path += f"/{subresource}"
        return path

    def permission(self, verb: str, subresource: str | None = None) -> Permission:
        resource = f"{self.plural}/{subresource}" if subresource else self.plural
        return Permission(self.group, resource, verb)


SERVICES = Resource("", "v1", "services")
PODS = Resource("", "v1", "pods")
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
EVENTS = Resource("events.k8s.io", "v1", "events")


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: Object


class KubeClient:
    """One keep-alive HTTP client to the API server, shared by everything that talks to it."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.namespace = config.namespace
        try:
            self._ssl = config.ssl_context() if config.base_url.startswith("https:") else None
        except (ssl.SSLError, OSError, ValueError) as error:  # a CA or key that is no PEM
            reason = getattr(error, "reason", None) or error
            raise NotInCluster(f"{config.source}: cannot load its TLS files: {reason}") from None
        self.credentials = config.credentials(self._ssl)
        self._secrets: list[str] = []
        self._http = http_client(
            self._ssl,
            REQUEST_TIMEOUT,
            base_url=config.base_url,
            headers={"Accept": "application/json", "User-Agent": "site-status"},
        )

    @classmethod
    def from_environment(cls) -> KubeClient:
        return cls(cluster_from_environment())

    # --- plain requests ---------------------------------------------------------------------

    async def get(self, resource: Resource, name: str) -> Object:
        path = resource.path(self.namespace, name)
        return await self._call(resource.permission("get"), "GET", path)

    async def list(self, resource: Resource, label_selector: str | None = None) -> Object:
        params = {"labelSelector": label_selector} if label_selector else {}
        path = resource.path(self.namespace)
        return await self._call(resource.permission("list"), "GET", path, params=params)

    async def create(self, resource: Resource, body: Mapping[str, Any]) -> Object:
        path = resource.path(self.namespace)
        return await self._call(resource.permission("create"), "POST", path, body=body)

    async def merge_patch(self, resource: Resource, name: str, body: Mapping[str, Any]) -> Object:
        """A JSON merge patch (RFC 7386): only the keys given change, null deletes one."""
        path = resource.path(self.namespace, name)
        return await self._call(
            resource.permission("patch"),
            "PATCH",
            path,
            body=body,
            content_type="application/merge-patch+json",
        )

    async def watch(
        self,
        resource: Resource,
        resource_version: str,
        timeout_seconds: int = WATCH_TIMEOUT_SECONDS,
    ) -> AsyncIterator[WatchEvent]:
        """Changes after ``resource_version``, bookmarks included, until the server ends it.

        Raises ``ResourceGone`` when the version is too old (as an HTTP 410 or as an ERROR
        event in the stream), ``ApiError`` for other errors.
        """
        check_declared(resource.permission("watch"))
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        timeout = httpx.Timeout(REQUEST_TIMEOUT, read=timeout_seconds + 30)
        request = self._http.build_request(
            "GET", resource.path(self.namespace), params=params, timeout=timeout
        )
        response = await self._send(request, stream=True)
        try:
            if response.status_code != 200:
                await response.aread()
                raise self._error(response)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
                    raise ApiError(200, "BadResponse", "a watch event is not a JSON object")
                kind, obj = event.get("type"), event["object"]
                if kind == "ERROR":
                    raise ApiError.from_status(int(obj.get("code") or 500), obj)
                yield WatchEvent(str(kind), obj)
        finally:
            await response.aclose()

    # --- what the exec websocket needs -------------------------------------------------------

    def url(self, path: str, params: Sequence[tuple[str, str]]) -> httpx.URL:
        return httpx.URL(self.config.base_url + path, params=params)

    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl

    async def authorization(self, force_reload: bool = False) -> dict[str, str]:
        headers = await self.credentials.headers(force=force_reload)
        secrets = credential_secrets(headers)
        if secrets != self._secrets:
            remember_secrets(secrets)  # log lines mask them too
            self._secrets = secrets
        return headers

    def mask(self, text: str) -> str:
        """``text`` (an error, a server's message) with the credentials masked in every form:
        a token read from a file never reaches a result, a report or a log line."""
        return masked(text, self._secrets)

    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.config.base_url)
        default = 443 if parts.scheme == "https" else 80
        return parts.hostname or "", parts.port or default

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- internals ---------------------------------------------------------------------------

    async def _call(
        self,
        permission: Permission,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Object:
        check_declared(permission)
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type} if body is not None else None
        request = self._http.build_request(
            method, path, params=params, content=content, headers=headers
        )
        response = await self._send(request)
        if response.status_code >= 400:
            raise self._error(response)
        payload = response.json()
        if not isinstance(payload, dict):
            raise ApiError(response.status_code, "BadResponse", "the answer is not a JSON object")
        return payload

    def _error(self, response: httpx.Response) -> ApiError:
        try:
            status = response.json()
        except ValueError:
            status = {"message": response.text[:300]}
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            status["message"] = self.mask(status["message"])  # a proxy may echo the request
        return ApiError.from_status(response.status_code, status)

    async def _send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        """Send with the current credentials; after a 401, renew them (read the token file
        again, run the exec plugin again) and try once more."""
        try:
            request.headers.update(await self.authorization())
            response = await self._http.send(request, stream=stream)
            if response.status_code == 401:
                await response.aclose()
                request.headers.update(await self.authorization(force_reload=True))
                response = await self._http.send(request, stream=stream)
        except (httpx.HTTPError, ValueError) as error:
            # httpx quotes a header value it refuses, whole: ``Illegal header value b'...'``.
            # The same error (callers tell them apart by type), its text masked and without
            # the chained one (h11's, which quotes the value too).
            error.args = (self.mask(str(error)),)
            error.__cause__, error.__suppress_context__ = None, True
            raise
        return response


def check_declared(permission: Permission) -> None:
    if permission not in permissions.DECLARED:
        raise RuntimeError(f"{permission} is not declared in exporter.kube_client.permissions")
