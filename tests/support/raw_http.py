"""A raw HTTP/1.1 server on loopback for the outbound clients' tests: it answers every request
head with one fixed response, then keeps, closes or writes garbage on the connection, or sends
an 8 MiB body, and counts the connections it accepted. ``server`` is its pytest fixture
(parametrised indirectly with ``(after, stall)``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

HUGE = 8 * 1024 * 1024
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class RawServer:
    """Answers every request head with ``OK``; then, per ``after``: ``keep`` the connection,
    ``close`` it, or write ``garbage`` on it out of turn. Counts the connections it accepted."""

    def __init__(self, after: str = "keep", stall: bool = False) -> None:
        self.after = after
        self.stall = stall
        self.accepted = 0
        self.answered = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/h"

    def close(self) -> None:
        self._listener.close()
        for connection in self._connections:
            connection.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        received = b""
        try:
            while True:
                while b"\r\n\r\n" not in received:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                _, _, received = received.partition(b"\r\n\r\n")
                if self.stall:
                    continue  # never answers
                if self.after == "huge":
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n".encode()
                    connection.sendall(head + b"x" * HUGE)
                    continue
                connection.sendall(OK)
                if self.after == "close":
                    connection.shutdown(socket.SHUT_RDWR)
                elif self.after == "garbage":
                    time.sleep(0.05)  # after the client took the answer, not in its segment
                    connection.sendall(b"HTTP/1.1 500 Out Of Turn\r\n\r\n")
                self.answered.set()
        except OSError:
            return


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    running = RawServer(*getattr(request, "param", ("keep",)))
    yield running
    running.close()
