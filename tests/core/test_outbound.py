"""The exporter's outbound HTTP clients (``exporter.outbound.http_client``), on httpx's default
transport and on the http probe's asyncio one (``exporter.asyncio_transport``), against a raw
loopback server: kept-alive connections are reused, one the server closed or wrote to out of
turn is not, errors are httpx's with their cause, and TLS shows the peer's certificate."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading

import httpx
import pytest
import trustme

from exporter.asyncio_transport import READ_HIGH_WATER
from exporter.failure_text import leaf_errors
from exporter.outbound import http_client
from tests.support.raw_http import HUGE, OK, RawServer, server

__all__ = ["server"]  # the fixture, used by name


@pytest.fixture(params=[False, True], ids=["httpx", "asyncio"])
def on_asyncio(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


def client(on_asyncio: bool, timeout: float | None = None) -> httpx.AsyncClient:
    return http_client(ssl.create_default_context(), timeout, on_asyncio=on_asyncio)


async def test_a_kept_alive_connection_is_reused(server: RawServer, on_asyncio: bool) -> None:
    async with client(on_asyncio) as http:
        for _ in range(3):
            response = await http.get(server.url)
            assert (response.status_code, response.text) == (200, "ok")
    assert server.accepted == 1


@pytest.mark.parametrize("server", [("close",), ("garbage",)], indirect=True)
async def test_a_connection_the_server_closed_or_wrote_to_is_not_reused(
    server: RawServer, on_asyncio: bool
) -> None:
    async with client(on_asyncio, timeout=5) as http:
        for _ in range(3):
            server.answered.clear()
            response = await http.get(server.url)
            assert (response.status_code, response.text) == (200, "ok")
            assert server.answered.wait(2)  # the close or the garbage has been sent
            await asyncio.sleep(0.1)  # for the event loop to take it in
    assert server.accepted == 3


@pytest.mark.parametrize("server", [("huge",)], indirect=True)
async def test_an_unread_body_is_not_taken_into_memory_on_asyncio(server: RawServer) -> None:
    async with client(True, timeout=5) as http, http.stream("GET", server.url) as response:
        chunks = response.aiter_raw()
        first = await chunks.__anext__()
        await asyncio.sleep(0.3)  # the server has sent all 8 MiB by now
        unread = response.extensions["network_stream"]._connection.buffer
        # Reading paused past the high-water mark; one more socket read may have landed.
        assert len(first) + len(unread) <= READ_HIGH_WATER + 256 * 1024
        rest = sum([len(chunk) async for chunk in chunks])
    assert len(first) + rest == HUGE


@pytest.mark.parametrize("server", [("keep", True)], indirect=True)
async def test_a_read_timeout_is_httpx_read_timeout(server: RawServer, on_asyncio: bool) -> None:
    async with client(on_asyncio, timeout=0.2) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url)


async def test_connection_refused_is_a_connect_error_with_its_cause(on_asyncio: bool) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with client(on_asyncio) as http:
        with pytest.raises(httpx.ConnectError) as raised:
            await http.get(f"http://127.0.0.1:{port}/")
    # The failure wording (exporter.failure_text) walks causes and contexts down to the OS error.
    causes = leaf_errors(raised.value)
    assert any(isinstance(cause, ConnectionRefusedError) for cause in causes)


async def test_tls_exposes_the_peer_certificate(on_asyncio: bool) -> None:
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
        http_client(client_context, None, on_asyncio=on_asyncio) as http,
        http.stream("GET", url) as got,
    ):
        certificate = got.extensions["network_stream"].get_extra_info("ssl_object").getpeercert()
        await got.aread()
    listener.close()
    assert got.text == "ok"
    assert ("commonName", "127.0.0.1") not in certificate.get("subject", ())  # trustme: SAN only
    assert certificate["subjectAltName"] == (("IP Address", "127.0.0.1"),)
