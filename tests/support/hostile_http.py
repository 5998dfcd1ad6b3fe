"""A loopback HTTP server that answers each request with whatever a test writes to the socket.

For the gate's sources, which must hold against a server that trickles its headers, sends an
endless body or a document of another shape: no real Prometheus or exporter does that on
purpose, so this writes the bytes by hand. ``stopping`` is set at exit so that endless answers
end with the test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

Answer = Callable[[socket.socket, threading.Event], None]


class HostileServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.stopping = threading.Event()
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                data = connection.recv(65536)
                if not data:
                    return
                head += data
            self.requests.append(head)
            with contextlib.suppress(OSError):
                self.answer(connection, self.stopping)


@contextlib.contextmanager
def hostile_server(answer: Answer) -> Iterator[HostileServer]:
    server = HostileServer(answer)
    server._thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server._listener.close()


def fixed(body: bytes, status: str = "200 OK", content_type: str = "application/json") -> Answer:
    """A complete answer with this body (``Connection: close``)."""

    def answer(connection: socket.socket, stopping: threading.Event) -> None:
        connection.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    return answer
