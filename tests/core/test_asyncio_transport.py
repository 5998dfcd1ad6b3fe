"""The http probe's asyncio transport (``exporter.asyncio_transport``) against a raw loopback
server: kept-alive connections are reused, one the server closed or wrote to out of turn is not,
an unread body stays in the socket, and errors are httpx's with their cause."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import trustme

from exporter.asyncio_transport import READ_HIGH_WATER, AsyncioTransport
from exporter.outbound import http_client
from probes.http.probe import error_chain

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


def client(timeout: float | None = None) -> httpx.AsyncClient:
    return http_client(ssl.create_default_context(), timeout, on_asyncio=True)


async def test_a_kept_alive_connection_is_reused(server: RawServer) -> None:
    async with client() as http:
        for _ in range(3):
            response = await http.get(server.url)
            assert (response.status_code, response.text) == (200, "ok")
    assert server.accepted == 1


@pytest.mark.parametrize("server", [("close",), ("garbage",)], indirect=True)
async def test_a_connection_the_server_closed_or_wrote_to_is_not_reused(
    server: RawServer,
) -> None:
    async with client(timeout=5) as http:
        for _ in range(3):
            server.answered.clear()
            response = await http.get(server.url)
            assert (response.status_code, response.text) == (200, "ok")
            assert server.answered.wait(2)  # the close or the garbage has been sent
            await asyncio.sleep(0.1)  # for the event loop to take it in
    assert server.accepted == 3


@pytest.mark.parametrize("server", [("huge",)], indirect=True)
async def test_an_unread_body_is_not_taken_into_memory(server: RawServer) -> None:
    async with client(timeout=5) as http, http.stream("GET", server.url) as response:
        chunks = response.aiter_raw()
        first = await chunks.__anext__()
        await asyncio.sleep(0.3)  # the server has sent all 8 MiB by now
        unread = response.extensions["network_stream"]._connection.buffer
        # Reading paused past the high-water mark; one more socket read may have landed.
        assert len(first) + len(unread) <= READ_HIGH_WATER + 256 * 1024
        rest = sum([len(chunk) async for chunk in chunks])
    assert len(first) + rest == HUGE


@pytest.mark.parametrize("server", [("keep", True)], indirect=True)
async def test_a_read_timeout_is_httpx_read_timeout(server: RawServer) -> None:
    async with client(timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url)


async def test_connection_refused_is_a_connect_error_with_its_cause() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as raised:
            await http.get(f"http://127.0.0.1:{port}/")
    # The probe's error_chain walks causes and contexts down to the OS error.
    causes = error_chain(raised.value)
    assert any(isinstance(cause, ConnectionRefusedError) for cause in causes)


async def test_tls_exposes_the_peer_certificate() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        raw, _ = listener.accept()
        with server_context.wrap_socket(raw, server_side=True) as connection:
            while b"\r\n\r\n" not in connection.recv(65536):
                pass
            connection.sendall(OK)

    threading.Thread(target=serve, daemon=True).start()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
    async with (
        httpx.AsyncClient(transport=AsyncioTransport(client_context, 10), trust_env=False) as http,
        http.stream("GET", url) as got,
    ):
        certificate = got.extensions["network_stream"].get_extra_info("ssl_object").getpeercert()
        await got.aread()
    listener.close()
    assert got.text == "ok"
    assert ("commonName", "127.0.0.1") not in certificate.get("subject", ())  # trustme: SAN only
    assert certificate["subjectAltName"] == (("IP Address", "127.0.0.1"),)
