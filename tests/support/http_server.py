"""A small HTTP server on loopback that misbehaves on request, for the http probe's tests.

Routes are set per test: ``server.route("/healthz", status=503, body=..., content_type=...)``
or one of the misbehaviours: ``stall_after_headers``, ``close_mid_body``, ``huge``. It speaks
just enough HTTP/1.1 (keep-alive, Content-Length) over raw sockets, so it can break the rules.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Route:
    status: int = 200
    body: bytes = b"ok"
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    behaviour: str = "normal"  # normal | stall_after_headers | close_mid_body | huge


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class MisbehavingServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._release = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def route(self, path: str, **kwargs: object) -> None:
        body = kwargs.pop("body", b"ok")
        if isinstance(body, str):
            body = body.encode()
        self.routes[path] = Route(body=body, **kwargs)  # type: ignore[arg-type]

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        self._release.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            connection = self._tls.wrap_socket(raw, server_side=True) if self._tls else raw
            with connection:
                reader = connection.makefile("rb")
                while not self._stop.is_set():
                    request = self._read_request(reader)
                    if request is None:
                        return
                    if not self._answer(connection, request):
                        return

    def _read_request(self, reader: object) -> SeenRequest | None:
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return None
        path = line.decode().split()[1]
        headers = {}
        while True:
            header = reader.readline()  # type: ignore[attr-defined]
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            reader.read(length)  # type: ignore[attr-defined]
        seen = SeenRequest(path, headers)
        self.requests.append(seen)
        return seen

    def _answer(self, connection: socket.socket, request: SeenRequest) -> bool:
        route = self.routes.get(request.path.split("?")[0], Route(404, b"no route"))
        body = route.body
        length = len(body)
        if route.behaviour == "huge":
            length = 5 * 1024 * 1024
        if route.behaviour in ("close_mid_body", "stall_after_headers"):
            length = len(body) + 1000
        head = [
            f"HTTP/1.1 {route.status} X",
            f"Content-Type: {route.content_type}",
            f"Content-Length: {length}",
        ]
        head += [f"{k}: {v}" for k, v in route.headers.items()]
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        if route.behaviour == "stall_after_headers":
            self._release.wait()
            return False
        if route.behaviour == "huge":
            chunk = b"x" * 65536
            with contextlib.suppress(OSError):
                for _ in range(length // len(chunk)):
                    connection.sendall(chunk)
            return False
        connection.sendall(body)
        return route.behaviour == "normal"


@contextlib.contextmanager
def misbehaving_server(tls: ssl.SSLContext | None = None) -> Iterator[MisbehavingServer]:
    server = MisbehavingServer(tls)
    server.start()
    try:
        yield server
    finally:
        server.close()
