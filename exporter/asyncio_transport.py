"""httpx's public transport interface over httpcore's public connection pool on plain asyncio:
the http probe's transport (docs/benchmarks.md has the profile that asked for it).

Why not httpx's default transport: its pool runs on httpcore's anyio backend, which wraps every
read and write in an anyio cancel scope and, on every request, checks each idle pooled
connection for readability by building anyio's socket attribute table and polling the socket.
Here a connection is an ``asyncio.Protocol`` whose transport reads as data arrives, so "has the
server closed or written out of turn?" is a look at our own buffer, and a read is one future.

Only public APIs: ``httpx.AsyncBaseTransport`` (httpx's documented way to bring a transport),
``httpcore.AsyncConnectionPool`` with its ``network_backend`` and ``httpcore.AsyncNetworkBackend``
(httpcore's documented network backends). httpcore's errors become httpx's, as httpx's own
transport maps them, so callers see one family of exceptions with the cause chained.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpcore
import httpx

#: Past this many unread bytes the connection stops reading from the socket until the probe
#: reads (a body over the cap is never read whole into memory).
READ_HIGH_WATER = 256 * 1024
KEEPALIVE_EXPIRY = 5.0

#: httpcore's error types and httpx's, most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for core_type, httpx_type in _ERRORS:
            if isinstance(error, core_type):
                raise httpx_type(str(error), request=request) from error
        raise


@contextlib.contextmanager
def _mapped(error_type: type[Exception], timeout_type: type[Exception]) -> Iterator[None]:
    """OS errors and timeouts as httpcore's errors (the cause kept)."""
    try:
        yield
    except TimeoutError as error:
        raise timeout_type(str(error) or "timed out") from error
    except OSError as error:
        raise error_type(str(error) or type(error).__name__) from error


async def _within(timeout: float | None, awaitable: Any) -> Any:
    if timeout is None:
        return await awaitable
    async with asyncio.timeout(timeout):
        return await awaitable


class _Connection(asyncio.Protocol):
    """Bytes received and not yet read, end of stream, and write flow control."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False
        self.error: Exception | None = None
        self._reader: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused_reading = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self._paused_reading = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake_reader()
        return False  # close the transport: a response never continues after EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake_reader()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None:
            if not self._writable.done():
                self._writable.set_result(None)
            self._writable = None

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def read(self, max_bytes: int) -> bytes:
        while not self.buffer:
            if self.ended:
                if self.error is not None:
                    raise self.error
                return b""
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._paused_reading and len(self.buffer) <= READ_HIGH_WATER // 2:
            self._paused_reading = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        return data

    async def drained(self) -> None:
        if self._writable is not None:
            await self._writable
        if self.error is not None:
            raise self.error


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    @property
    def _transport(self) -> asyncio.Transport:
        transport = self._connection.transport
        assert transport is not None  # set by connection_made, before the stream exists
        return transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadError, httpcore.ReadTimeout):
            data: bytes = await _within(timeout, self._connection.read(max_bytes))
            return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteError, httpcore.WriteTimeout):
            if self._connection.ended or self._transport.is_closing():
                raise self._connection.error or ConnectionResetError("connection closed")
            self._transport.write(buffer)
            await _within(timeout, self._connection.drained())

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _mapped(httpcore.ConnectError, httpcore.ConnectTimeout):
            try:
                transport = await loop.start_tls(
                    self._transport,
                    self._connection,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout,
                )
            except BaseException:
                self._transport.close()
                raise
        if transport is None:  # pragma: no cover: only for a transport closed meanwhile
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        self._connection.transport = transport
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # An idle kept-alive connection with bytes or an EOF waiting was closed (or spoken
            # to out of turn) by the server: httpcore then drops it instead of reusing it.
            return bool(self._connection.buffer) or self._connection.ended
        names = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }
        return self._transport.get_extra_info(names[info]) if info in names else None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """TCP connections (``AsyncioTransport``'s pool asks for no Unix sockets, no socket options)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if socket_options:
            raise ValueError("socket options are not supported by this backend")
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        with _mapped(httpcore.ConnectError, httpcore.ConnectTimeout):
            _, connection = await _within(
                timeout, loop.create_connection(_Connection, host, port, local_addr=local)
            )
        return AsyncioStream(connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            with _as_httpx_errors(self._request):
                await self._stream.aclose()


class AsyncioTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over ``AsyncioBackend``, kept-alive connections pooled."""

    def __init__(self, ssl_context: ssl.SSLContext, max_keepalive_connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            http1=True,
            http2=False,
            network_backend=AsyncioBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors(request):
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
