"""A local double of the Kubernetes API server, for the exporter's real client code.

A real HTTPS server on 127.0.0.1 (a trustme CA written where a pod has its service account
files) that answers like the API server for what site-status uses, and rejects what the real
one rejects:

- authentication by bearer token (401 ``Status``; the token can be rotated mid-test) or by a
  client certificate the CA signed (``issue_client_cert``); or plain HTTP without any, as
  behind ``kubectl proxy`` (``tls="none"``); a CA without key usage (``tls="legacy-ca"``);
- authorization from the Roles in ``k8s/`` (403 ``Forbidden`` ``Status`` for any verb, resource
  or resource name they do not grant);
- get and list with ``resourceVersion`` and label selectors (set-based too, parsed as
  ``labels.Parse`` does); watch as a chunked stream of JSON lines (ADDED, MODIFIED, DELETED,
  BOOKMARK about once a minute and 2 s before the deadline) from a version; a version older
  than the kept history gets HTTP 200 and an ERROR event with a 410 Status, never an HTTP 410
  (as a real server), and an ERROR 410 can be injected mid-stream;
- ``events.k8s.io/v1`` create, validated like ``ValidateEventCreate`` (422 ``Invalid``; the
  note's limit in bytes, as Go's ``len``);
- ``pods/{name}/exec`` over a websocket: subprotocol negotiation (v5/v4.channel.k8s.io),
  channel-prefixed binary frames, the final status on channel 3, running a real local command.

Requests are recorded with the permission they needed, so tests can compare what the code used
with what the Roles grant.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import itertools
import json
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme
import yaml

from tests.support import label_selector
from tests.support.legacy_ca import legacy_ca

REPO = Path(__file__).resolve().parents[2]
BASE_ROLE = REPO / "k8s" / "base" / "role.yaml"
EXEC_ROLE = REPO / "k8s" / "components" / "drupal-exec" / "role.yaml"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ALL_SUBPROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")

#: (group, plural) -> kind, for lists and watch bookmarks.
KINDS = {
    ("", "services"): "Service",
    ("", "pods"): "Pod",
    ("networking.k8s.io", "ingresses"): "Ingress",
    ("apps", "deployments"): "Deployment",
    ("events.k8s.io", "events"): "Event",
}
VERSIONS = {"": "v1", "networking.k8s.io": "v1", "apps": "v1", "events.k8s.io": "v1"}
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)


@dataclass(frozen=True)
class Rule:
    groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    names: frozenset[str]

    def allows(self, group: str, resource: str, verb: str, name: str | None) -> bool:
        # resourceNames can only narrow verbs on a named object (never list or watch).
        return bool(
            {group, "*"} & self.groups
            and {resource, "*"} & self.resources
            and {verb, "*"} & self.verbs
            and (not self.names or name in self.names)
        )


def load_rules(paths: Sequence[Path]) -> list[Rule]:
    rules = []
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") != "Role":
                continue
            for rule in document.get("rules") or []:
                rules.append(
                    Rule(
                        frozenset(rule.get("apiGroups") or []),
                        frozenset(rule.get("resources") or []),
                        frozenset(rule.get("verbs") or []),
                        frozenset(rule.get("resourceNames") or []),
                    )
                )
    return rules


@dataclass
class SeenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    #: (group, resource, verb) triples the request needed (an exec websocket needs two).
    permissions: list[tuple[str, str, str]]
    code: int
    token: str
    #: The user of a verified client certificate (its CN), or "".
    user: str = ""
    seen_at: float = field(default_factory=time.monotonic)


@dataclass
class _Change:
    version: int
    type: str
    key: tuple[str, str]
    obj: dict[str, Any]


@dataclass
class _Target:
    group: str
    version: str
    namespace: str
    plural: str
    name: str | None
    subresource: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural


@dataclass
class KubeApiDouble:
    tmp_path: Path
    namespace: str = "site"
    roles: Sequence[Path] = (BASE_ROLE,)
    subprotocols: Sequence[str] = ALL_SUBPROTOCOLS
    #: Seconds between bookmarks on an idle watch: the cacher's defaultBookmarkFrequency is a
    #: minute (staging/src/k8s.io/apiserver/pkg/storage/cacher/cacher.go), with one more bookmark
    #: 2 s before the watch's deadline. Tests that wait for one set it lower.
    bookmark_interval: float = 60.0
    #: Every watch ends at once with an ERROR 410 (a server whose history keeps being compacted).
    always_gone: bool = False
    #: Raw lines every watch stream starts with (what a broken proxy might send).
    watch_preamble: Sequence[bytes] = ()
    token: str = "token-1"
    #: "trustme": HTTPS with a trustme CA, which also signs client certificates the double
    #: accepts (``issue_client_cert``); "legacy-ca": HTTPS with a CA that has no key usage
    #: (``legacy_ca.py``); "none": plain HTTP without authentication, as ``kubectl proxy``.
    tls: str = "trustme"
    rules: list[Rule] = field(init=False)
    requests: list[SeenRequest] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Watches streaming now (``expire_watches`` ends only these).
    open_watches: int = 0

    def __post_init__(self) -> None:
        self.rules = load_rules(self.roles)
        self._objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._history: list[_Change] = []
        self._version = itertools.count(100)
        self._current = 100
        self._oldest_kept = 0
        self._cond = threading.Condition()
        self._gone_epoch = 0
        self._closing = False
        self._processes: list[subprocess.Popen[bytes]] = []
        self.ca = trustme.CA()
        self.account_dir = self.tmp_path / "serviceaccount"
        self.account_dir.mkdir(parents=True, exist_ok=True)
        (self.account_dir / "namespace").write_text(self.namespace)
        context: ssl.SSLContext | None = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        assert context is not None
        if self.tls == "legacy-ca":
            legacy = legacy_ca()
            self.ca_pem = legacy.ca_pem
            pair = self.tmp_path / "apiserver.pem"
            pair.write_bytes(legacy.server_cert_pem + legacy.server_key_pem)
            context.load_cert_chain(str(pair))
        elif self.tls == "trustme":
            self.ca_pem = self.ca.cert_pem.bytes()
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            # Client certificates signed by the CA authenticate (their CN is the user), as
            # kube-apiserver's --client-ca-file does.
            context.verify_mode = ssl.CERT_OPTIONAL
            self.ca.configure_trust(context)
        else:
            self.ca_pem, context = b"", None
        if self.ca_pem:
            (self.account_dir / "ca.crt").write_bytes(self.ca_pem)
            (self.account_dir / "token").write_text(self.token + "\n")
        self._server = _Server(("127.0.0.1", 0), _Handler, self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life ---------------------------------------------------------------------------------

    def __enter__(self) -> KubeApiDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        for process in self._processes:
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    @property
    def url(self) -> str:
        scheme = "http" if self.tls == "none" else "https"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def issue_client_cert(self, user: str) -> trustme.LeafCert:
        """A client certificate for ``user`` (its CN), signed by the double's CA."""
        return self.ca.issue_cert(f"{user}.users.example", common_name=user)

    def settings(self, **extra: Any) -> dict[str, Any]:
        """A ``kubernetes:`` config block pointing at this double."""
        return {
            "enabled": True,
            "api_url": self.url,
            "service_account_dir": str(self.account_dir),
            **extra,
        }

    def rotate_token(self, token: str) -> None:
        """The kubelet writes a new token; the old one stops working at once."""
        self.token = token
        path = self.account_dir / "token"
        temporary = path.with_suffix(".new")
        temporary.write_text(token + "\n")
        temporary.replace(path)

    # --- objects ------------------------------------------------------------------------------

    def put(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (ADDED or MODIFIED to watchers)."""
        with self._cond:
            meta = obj.setdefault("metadata", {})
            meta.setdefault("namespace", self.namespace)
            meta.setdefault("uid", hashlib.sha1(f"{plural}/{meta['name']}".encode()).hexdigest())
            store = self._objects.setdefault((group, plural), {})
            kind = "MODIFIED" if meta["name"] in store else "ADDED"
            self._record(kind, (group, plural), obj)
            store[meta["name"]] = obj
            return obj

    def delete(self, group: str, plural: str, name: str) -> None:
        with self._cond:
            obj = self._objects.get((group, plural), {}).pop(name)
            self._record("DELETED", (group, plural), obj)

    def get(self, group: str, plural: str, name: str) -> dict[str, Any] | None:
        with self._cond:
            return self._objects.get((group, plural), {}).get(name)

    def _record(self, kind: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
        self._current = next(self._version)
        obj["metadata"]["resourceVersion"] = str(self._current)
        self._history.append(_Change(self._current, kind, key, json.loads(json.dumps(obj))))
        self._cond.notify_all()

    def compact(self) -> None:
        """Forget the history (etcd compaction): watches from older versions get 410 Gone."""
        with self._cond:
            self._oldest_kept = self._current
            self._history.clear()

    def expire_watches(self) -> None:
        """Open watches get an ERROR event with a 410 Status and end (the watch cache reset)."""
        with self._cond:
            self.compact()
            self._gone_epoch += 1
            self._cond.notify_all()

    def add_pod(
        self,
        name: str,
        labels: dict[str, str],
        containers: Sequence[str] = ("php",),
        phase: str = "Running",
        ready: bool = True,
    ) -> None:
        self.put(
            "",
            "pods",
            {
                "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": c, "image": "drupal"} for c in containers]},
                "status": {
                    "phase": phase,
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                },
            },
        )

    def permissions_used(self) -> set[tuple[str, str, str]]:
        return {permission for r in self.requests for permission in r.permissions}

    # --- authorization ------------------------------------------------------------------------

    def allowed(self, group: str, resource: str, verb: str, name: str | None) -> bool:
        return any(rule.allows(group, resource, verb, name) for rule in self.rules)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        api: KubeApiDouble,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.api = api
        self.tls = tls
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens in the request's thread, not in the accepting one.
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


def status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def api(self) -> KubeApiDouble:
        return self.server.api

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _certificate_user(self) -> str:
        """The CN of a verified client certificate, or ""."""
        if not isinstance(self.connection, ssl.SSLSocket):
            return ""
        certificate: dict[str, Any] = dict(self.connection.getpeercert() or {})
        for rdn in certificate.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return str(value)
        return ""

    # --- dispatch -----------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)  # as Go's url.Query
        target = _parse_path(parts.path)
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        user = self._certificate_user()
        seen = SeenRequest(method, parts.path, query, [], 0, token, user)
        self.api.requests.append(seen)
        body = self._read_body() if method in ("POST", "PUT", "PATCH") else b""
        authenticated = token == self.api.token or bool(user) or self.api.tls == "none"
        if not authenticated:
            self._status(seen, status(401, "Unauthorized", "Unauthorized"))
            return
        if target is None:
            self._status(
                seen, status(404, "NotFound", "the server could not find the requested resource")
            )
            return
        websocket = self.headers.get("Upgrade", "").lower() == "websocket"
        verbs = self._verbs(method, target, query, websocket)
        for verb in verbs:
            seen.permissions.append((target.group, target.resource, verb))
            if target.namespace != self.api.namespace or not self.api.allowed(
                target.group, target.resource, verb, target.name
            ):
                sa = f"system:serviceaccount:{self.api.namespace}:site-status"
                group = target.group
                message = (
                    f'{target.resource} "{target.name}" is forbidden: '
                    if target.name
                    else f"{target.resource} is forbidden: "
                ) + (
                    f'User "{sa}" cannot {verb} resource "{target.resource}" in API group '
                    f'"{group}" in the namespace "{target.namespace}"'
                )
                details = {"kind": target.plural, "group": group}
                if target.name:
                    details["name"] = target.name
                self._status(seen, status(403, "Forbidden", message, details))
                return
        verb = verbs[-1]
        if target.subresource == "exec":
            self._exec(seen, target, query, websocket)
        elif verb == "get":
            self._get(seen, target)
        elif verb == "list":
            self._list(seen, target)
        elif verb == "watch":
            self._watch(seen, target, query)
        elif verb == "create":
            self._create(seen, target, body)
        elif verb == "patch":
            self._patch(seen, target, body)
        else:
            self._status(seen, status(405, "MethodNotAllowed", f"{verb} is not supported here"))

    @staticmethod
    def _verbs(
        method: str, target: _Target, query: dict[str, list[str]], websocket: bool
    ) -> list[str]:
        if target.subresource == "exec":
            # A websocket exec is a GET (get); since 1.35 the API server also requires create
            # (feature gate AuthorizePodWebsocketUpgradeCreatePermission, on by default).
            return ["get", "create"] if method == "GET" else ["create"]
        if method == "POST":
            return ["create"]
        if method == "GET" and target.name:
            return ["get"]
        if method == "GET":
            watching = query.get("watch", ["false"])[0] in ("1", "true")
            return ["watch" if watching else "list"]
        return [method.lower()]

    # --- plain verbs ------------------------------------------------------------------------

    def _get(self, seen: SeenRequest, target: _Target) -> None:
        assert target.name is not None
        obj = self.api.get(target.group, target.plural, target.name)
        if obj is None:
            message = (
                f"{target.plural}.{target.group or ''}".rstrip(".") + f' "{target.name}" not found'
            )
            self._status(
                seen, status(404, "NotFound", message, {"name": target.name, "kind": target.plural})
            )
            return
        self._json(seen, 200, obj)

    def _list(self, seen: SeenRequest, target: _Target) -> None:
        selector = (self._query_value("labelSelector") or "").strip()
        with self.api._cond:
            items = list(self.api._objects.get(target.key, {}).values())
            version = str(self.api._current)
        try:
            requirements = label_selector.parse(selector)
        except label_selector.SelectorError as error:
            self._status(seen, status(400, "BadRequest", f"unable to parse requirement: {error}"))
            return
        items = [i for i in items if all(r.matches(_labels(i)) for r in requirements)]
        kind = KINDS.get(target.key, "Object") + "List"
        api_version = f"{target.group}/{target.version}" if target.group else target.version
        self._json(
            seen,
            200,
            {
                "kind": kind,
                "apiVersion": api_version,
                "metadata": {"resourceVersion": version},
                "items": items,
            },
        )

    def _query_value(self, name: str) -> str | None:
        values = parse_qs(urlsplit(self.path).query, keep_blank_values=True).get(name)
        return values[0] if values else None

    def _create(self, seen: SeenRequest, target: _Target, body: bytes) -> None:
        try:
            obj = json.loads(body)
        except ValueError:
            self._status(seen, status(400, "BadRequest", "the request body is not JSON"))
            return
        if target.key != ("events.k8s.io", "events"):
            self._status(seen, status(405, "MethodNotAllowed", "create is only served for events"))
            return
        meta = obj.get("metadata") or {}
        if meta.get("namespace") not in (None, target.namespace):
            self._status(
                seen,
                status(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                ),
            )
            return
        errors = validate_event(obj, target.namespace)
        if errors:
            name = meta.get("name") or meta.get("generateName") or ""
            causes = [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in errors]
            message = f'Event.events.k8s.io "{name}" is invalid: ' + ", ".join(
                f"{f}: {m}" for f, m in errors
            )
            self._status(
                seen,
                status(
                    422,
                    "Invalid",
                    message,
                    {"name": name, "group": "events.k8s.io", "kind": "Event", "causes": causes},
                ),
            )
            return
        if not meta.get("name"):
            meta["name"] = meta["generateName"] + hashlib.sha1(body).hexdigest()[:5]
        obj["metadata"] = meta
        if self.api.get(target.group, target.plural, meta["name"]) is not None:
            self._status(
                seen,
                status(
                    409, "AlreadyExists", f'events.events.k8s.io "{meta["name"]}" already exists'
                ),
            )
            return
        created = self.api.put(target.group, target.plural, obj)
        self.api.events.append(created)
        self._json(seen, 201, created)

    def _patch(self, seen: SeenRequest, target: _Target, body: bytes) -> None:
        """A JSON merge patch (RFC 7386); the other patch types are refused as the API server
        refuses a body it cannot read (415)."""
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/merge-patch+json":
            message = (
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml"
            )
            self._status(seen, status(415, "UnsupportedMediaType", message))
            return
        assert target.name is not None
        try:
            patch = json.loads(body)
        except ValueError:
            self._status(seen, status(400, "BadRequest", "the request body is not JSON"))
            return
        current = self.api.get(target.group, target.plural, target.name)
        if current is None:
            message = f'{target.plural}.{target.group} "{target.name}" not found'
            self._status(seen, status(404, "NotFound", message))
            return
        patched = merge_patch(copy.deepcopy(current), patch)
        if not isinstance(patched, dict):
            self._status(seen, status(422, "Invalid", "the patch does not give an object"))
            return
        self._json(seen, 200, self.api.put(target.group, target.plural, patched))

    # --- watch --------------------------------------------------------------------------------

    def _watch(self, seen: SeenRequest, target: _Target, query: dict[str, list[str]]) -> None:
        api = self.api
        since = int(query.get("resourceVersion", ["0"])[0] or 0)
        bookmarks = query.get("allowWatchBookmarks", ["false"])[0] == "true"
        timeout = float(query.get("timeoutSeconds", ["1800"])[0])
        with api._cond:
            too_old = since < api._oldest_kept or api.always_gone
            epoch = api._gone_epoch
        # A real server never answers a watch with HTTP 410: it sends 200, then an ERROR event
        # whose object is the 410 Status (watch cache: "too old resource version").
        gone = status(410, "Expired", f"too old resource version: {since} ({api._oldest_kept})")
        seen.code = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in api.watch_preamble:
            self.wfile.write(f"{len(line) + 1:x}\r\n".encode() + line + b"\n\r\n")
        if too_old:
            self._chunk({"type": "ERROR", "object": gone})
            self._chunk(None)
            return
        deadline = time.monotonic() + timeout
        sent = since
        next_bookmark = self._next_bookmark(deadline)
        with api._cond:
            api.open_watches += 1  # its epoch is read: an expiry from now on ends it
        try:
            while True:
                with api._cond:
                    if api._gone_epoch != epoch:
                        pending = None
                    else:
                        pending = [
                            c for c in api._history if c.version > sent and c.key == target.key
                        ]
                    if pending == [] and not api._closing:
                        api._cond.wait(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
                    closing = api._closing
                    current = api._current
                if pending is None:
                    self._chunk({"type": "ERROR", "object": gone})
                    break
                for change in pending or []:
                    self._chunk({"type": change.type, "object": change.obj})
                    sent = change.version
                if closing or time.monotonic() >= deadline:
                    break
                if bookmarks and time.monotonic() >= next_bookmark and not pending:
                    kind = KINDS.get(target.key, "Object")
                    api_version = (
                        f"{target.group}/{target.version}" if target.group else target.version
                    )
                    self._chunk(
                        {
                            "type": "BOOKMARK",
                            "object": {
                                "kind": kind,
                                "apiVersion": api_version,
                                "metadata": {"resourceVersion": str(current)},
                            },
                        }
                    )
                    sent = max(sent, current)
                    next_bookmark = self._next_bookmark(deadline)
            self._chunk(None)
        except OSError:
            pass  # the client went away
        finally:
            with api._cond:
                api.open_watches -= 1

    def _next_bookmark(self, deadline: float) -> float:
        """As the cacher's ``nextBookmarkTime``: every bookmark_interval, and 2 s before the
        deadline (so a client resumes from a fresh version)."""
        now = time.monotonic()
        periodic = now + self.api.bookmark_interval
        before_deadline = deadline - 2.0
        return periodic if periodic < before_deadline or before_deadline <= now else before_deadline

    def _chunk(self, event: dict[str, Any] | None) -> None:
        if event is None:
            self.wfile.write(b"0\r\n\r\n")
        else:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    # --- exec -----------------------------------------------------------------------------------

    def _exec(
        self, seen: SeenRequest, target: _Target, query: dict[str, list[str]], websocket: bool
    ) -> None:
        assert target.name is not None
        if not websocket:
            self._status(seen, status(400, "BadRequest", "Upgrade request required"))
            return
        pod = self.api.get("", "pods", target.name)
        if pod is None:
            self._status(
                seen,
                status(
                    404,
                    "NotFound",
                    f'pods "{target.name}" not found',
                    {"name": target.name, "kind": "pods"},
                ),
            )
            return
        containers = [c["name"] for c in pod["spec"]["containers"]]
        container = query.get("container", [containers[0]])[0]
        if container not in containers:
            self._status(
                seen,
                status(
                    400, "BadRequest", f"container {container} is not valid for pod {target.name}"
                ),
            )
            return
        if pod["status"]["phase"] != "Running":
            self._status(
                seen,
                status(
                    400,
                    "BadRequest",
                    f"unable to upgrade connection: pod {target.name} is not running",
                ),
            )
            return
        command = query.get("command", [])
        if not command:
            self._status(seen, status(400, "BadRequest", "you must specify at least 1 command"))
            return
        offered = [
            p.strip()
            for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        chosen = next((p for p in offered if p in self.api.subprotocols), None)
        key = self.headers.get("Sec-WebSocket-Key", "")
        if chosen is None or not key or self.headers.get("Sec-WebSocket-Version") != "13":
            self._status(
                seen,
                status(
                    400,
                    "BadRequest",
                    "unable to upgrade connection: requested protocol(s) are not supported: "
                    f"{offered}; supports {list(self.api.subprotocols)}",
                ),
            )
            return
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        seen.code = 101
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", chosen)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        _ExecSession(self.connection, self.rfile, self.api, command).run()

    # --- plumbing -------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json(self, seen: SeenRequest, code: int, body: dict[str, Any]) -> None:
        seen.code = code
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, seen: SeenRequest, body: dict[str, Any]) -> None:
        self._json(seen, int(body["code"]), body)


class _ExecSession:
    """One exec: the command's stdout and stderr as frames, then its status on channel 3."""

    def __init__(
        self, sock: socket.socket, rfile: Any, api: KubeApiDouble, command: list[str]
    ) -> None:
        self.sock = sock
        self.rfile = rfile
        self.api = api
        self.command = command
        self.lock = threading.Lock()

    def send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([len(payload)])
        elif len(payload) < 65536:
            header += bytes([126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([127]) + struct.pack("!Q", len(payload))
        with self.lock:
            self.sock.sendall(header + payload)

    def send(self, channel: int, data: bytes) -> None:
        self.send_frame(0x2, bytes([channel]) + data)

    def run(self) -> None:
        try:
            self.send(1, b"")  # "the streams are open"
            try:
                process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as error:
                message = (
                    f'failed to exec in container: exec: "{self.command[0]}": '
                    f"{error.strerror}: unknown"
                )
                self.send(3, json.dumps(status(500, "InternalError", message)).encode())
                self.close()
                return
            self.api._processes.append(process)
            readers = [
                threading.Thread(target=self.pump, args=(process.stdout, 1), daemon=True),
                threading.Thread(target=self.pump, args=(process.stderr, 2), daemon=True),
            ]
            for reader in readers:
                reader.start()
            threading.Thread(target=self.read_client, args=(process,), daemon=True).start()
            for reader in readers:
                reader.join()
            code = process.wait()
            if code == 0:
                body = {"metadata": {}, "status": "Success"}
            else:
                body = status(
                    500,
                    "NonZeroExitCode",
                    f"command terminated with non-zero exit code: error executing command "
                    f"{self.command}, exit code {code}",
                    {"causes": [{"reason": "ExitCode", "message": str(code)}]},
                )
                del body["code"], body["kind"], body["apiVersion"]
            self.send(3, json.dumps(body).encode())
            self.close()
        except OSError:
            pass  # the client went away

    def pump(self, pipe: Any, channel: int) -> None:
        with contextlib.suppress(OSError):
            while chunk := pipe.read1(32768):
                self.send(channel, chunk)

    def read_client(self, process: subprocess.Popen[bytes]) -> None:
        """Client frames are masked; a close frame (or EOF) ends the session."""
        try:
            while True:
                head = self.rfile.read(2)
                if len(head) < 2:
                    break
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if not head[1] & 0x80:
                    break  # unmasked client frame: a protocol error
                if length == 126:
                    length = struct.unpack("!H", self.rfile.read(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self.rfile.read(8))[0]
                mask = self.rfile.read(4)
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
                if opcode == 0x8:
                    break
                if opcode == 0x9:
                    self.send_frame(0xA, payload)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send_frame(0x8, struct.pack("!H", 1000))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2, as written there."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


def _parse_path(path: str) -> _Target | None:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if len(rest) < 3 or rest[0] != "namespaces" or len(rest) > 5:
        return None
    if VERSIONS.get(group) != version:
        return None
    name = rest[3] if len(rest) > 3 else None
    sub = rest[4] if len(rest) > 4 else None
    return _Target(group, version, rest[1], rest[2], name, sub)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def validate_event(event: dict[str, Any], namespace: str) -> list[tuple[str, str]]:
    """``ValidateEventCreate`` for events.k8s.io/v1 (strict): (field, message) pairs."""
    errors: list[tuple[str, str]] = []
    meta = event.get("metadata") or {}
    name = meta.get("name") or ""
    if not name and not meta.get("generateName"):
        errors.append(("metadata.name", "Required value: name or generateName is required"))
    elif name and (len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name)):
        errors.append(("metadata.name", "Invalid value: a lowercase RFC 1123 subdomain"))
    event_time = event.get("eventTime")
    if not event_time:
        errors.append(("eventTime", "Required value"))
    else:
        try:
            datetime.fromisoformat(str(event_time).replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            errors.append(("eventTime", f"Invalid value: {event_time!r}"))
    series = event.get("series")
    if series is not None:
        if int(series.get("count") or 0) < 2:
            errors.append(("series.count", "Invalid value: should be at least 2"))
        if not series.get("lastObservedTime"):
            errors.append(("series.lastObservedTime", "Required value"))
    if event.get("type") not in ("Normal", "Warning"):
        errors.append(("type", f"Invalid value: has invalid value: {event.get('type')}"))
    regarding = event.get("regarding") or {}
    if not regarding.get("namespace") and namespace not in ("default", "kube-system"):
        errors.append(("regarding.namespace", "Invalid value: does not match event.namespace"))
    controller = event.get("reportingController") or ""
    if not controller:
        errors.append(("reportingController", "Required value"))
    elif len(controller) > 316 or not _QUALIFIED_NAME.fullmatch(controller):
        errors.append(
            ("reportingController", f"Invalid value: {controller!r}: not a qualified name")
        )
    for name_, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = event.get(name_) or ""
        if not value:
            errors.append((name_, "Required value"))
        elif len(value) > limit:
            errors.append((name_, f"Invalid value: can have at most {limit} characters"))
    # Go's len() of a string counts bytes: a 1024-character note in Danish is refused.
    if len((event.get("note") or "").encode()) > 1024:
        errors.append(("note", "Too long: may not be more than 1024 bytes"))
    for deprecated in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"):
        if event.get(deprecated):
            errors.append((deprecated, "Invalid value: needs to be unset"))
    return errors


@contextlib.contextmanager
def kube_api(tmp_path: Path, **options: Any) -> Iterator[KubeApiDouble]:
    with KubeApiDouble(tmp_path, **options) as api:
        yield api
