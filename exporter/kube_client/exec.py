"""``pods/{name}/exec`` over a websocket: the channel protocol, v5 preferred, v4 accepted.

Each binary message starts with a channel byte: 1 stdout, 2 stderr, 3 the command's final
status (a JSON ``metav1.Status``: ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and
the code in ``details.causes[reason=ExitCode]``). The server sends an empty message first to say
the streams are open. v5 adds a close signal for stdin, which a command without stdin never
sends, so both versions read the same here. The websocket layer is wsproto (sans-I/O, on top of
h11, which httpx already loads) over an anyio TCP/TLS stream; imported only when exec is used.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import anyio
from anyio.abc import ByteStream
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
)

from exporter.kube_client.client import PODS, ApiError, KubeClient, check_declared

#: Offered in this order; the server picks the first it speaks.
SUBPROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, STATUS = 1, 2, 3
#: The status channel carries one small JSON object.
MAX_STATUS_BYTES = 64 * 1024
READ_SIZE = 65536


class ExecFailed(Exception):
    """The command did not run: the upgrade was refused, or its status says it could not start."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Capped:
    """Bytes kept up to ``limit``; the rest is counted and dropped."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if len(chunk) > room:
            self.truncated = True
            chunk = chunk[: max(0, room)]
        self.data += chunk


@dataclass
class ExecResult:
    """What came back. ``exit_code`` None: the deadline came first (``timed_out``)."""

    exit_code: int | None
    stdout: Capped
    stderr: Capped
    subprotocol: str
    duration: float
    timed_out: bool = False


def exec_params(argv: Sequence[str], container: str | None) -> list[tuple[str, str]]:
    params = [("command", arg) for arg in argv]
    if container:
        params.append(("container", container))
    params += [("stdout", "true"), ("stderr", "true")]
    return params


async def pod_exec(
    client: KubeClient,
    pod: str,
    argv: Sequence[str],
    container: str | None,
    timeout: float,
    max_output_bytes: int,
) -> ExecResult:
    """Run ``argv`` in the pod and read its output until it ends or ``timeout`` passes."""
    check_declared(PODS.permission("create", "exec"))
    check_declared(PODS.permission("get", "exec"))
    started = time.monotonic()
    target = (
        PODS.path(client.namespace, pod, "exec") + "?" + urlencode(exec_params(argv, container))
    )
    stdout, stderr = Capped(max_output_bytes), Capped(max_output_bytes)
    session = _Session(client, target, stdout, stderr)
    with anyio.move_on_after(timeout) as scope:
        await session.run()
    elapsed = time.monotonic() - started
    if scope.cancelled_caught:
        await session.abort()
        return ExecResult(None, stdout, stderr, session.subprotocol, elapsed, timed_out=True)
    return ExecResult(session.exit_code(), stdout, stderr, session.subprotocol, elapsed)


class _Session:
    def __init__(self, client: KubeClient, target: str, stdout: Capped, stderr: Capped) -> None:
        self.client = client
        self.target = target
        self.channels = {STDOUT: stdout, STDERR: stderr}
        self.status = Capped(MAX_STATUS_BYTES)
        self.subprotocol = ""
        self.stream: ByteStream | None = None
        self._message = bytearray()

    async def run(self) -> None:
        try:
            await self._connect_and_read(force_token=False)
        except _Unauthorized:  # the token may have rotated under us: read it again, once
            await self.abort()
            await self._connect_and_read(force_token=True)

    async def abort(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            # The server may have gone already (closing after its close frame is allowed).
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(1),
                contextlib.suppress(anyio.BrokenResourceError, OSError, ssl.SSLError),
            ):
                await stream.aclose()

    async def _connect_and_read(self, force_token: bool) -> None:
        host, port = self.client.host_port()
        tls = self.client.ssl_context()
        if tls is not None:
            self.stream = await anyio.connect_tcp(host, port, ssl_context=tls)
        else:
            self.stream = await anyio.connect_tcp(host, port)
        ws = WSConnection(ConnectionType.CLIENT)
        headers = [
            (name.lower().encode(), value.encode())
            for name, value in (await self.client.authorization(force_reload=force_token)).items()
        ]
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = Request(
            host=netloc,
            target=self.target,
            subprotocols=list(SUBPROTOCOLS),
            extra_headers=headers,
        )
        try:
            await self.stream.send(ws.send(request))
            await self._read(ws)
        finally:
            await self.abort()

    async def _read(self, ws: WSConnection) -> None:
        assert self.stream is not None
        rejected: RejectConnection | None = None
        body = bytearray()
        while True:
            try:
                chunk = await self.stream.receive(READ_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                ws.receive_data(None)
                chunk = b""
            else:
                ws.receive_data(chunk)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    self.subprotocol = event.subprotocol or ""
                    if self.subprotocol not in SUBPROTOCOLS:
                        raise ExecFailed(
                            "the API server accepted none of the exec protocols "
                            + ", ".join(SUBPROTOCOLS)
                        )
                elif isinstance(event, RejectConnection):
                    rejected = event
                elif isinstance(event, RejectData):
                    body += event.data[:MAX_STATUS_BYTES]
                    if event.body_finished and rejected is not None:
                        raise _rejection(rejected.status_code, bytes(body))
                elif isinstance(event, BytesMessage):
                    self._message += event.data
                    if event.message_finished:
                        self._deliver(bytes(self._message))
                        self._message.clear()
                elif isinstance(event, Ping):
                    await self.stream.send(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state.name != "CLOSED":
                        await self.stream.send(ws.send(event.response()))
                    return
            if not chunk:
                if rejected is not None:
                    raise _rejection(rejected.status_code, bytes(body))
                return

    def _deliver(self, message: bytes) -> None:
        if not message:
            return
        channel, data = message[0], message[1:]
        if channel == STATUS:
            self.status.add(data)
        elif channel in self.channels:
            self.channels[channel].add(data)

    def exit_code(self) -> int:
        if not self.status.data:
            raise ExecFailed("the exec connection ended before the command's status came")
        return exit_code_of(bytes(self.status.data))


class _Unauthorized(ExecFailed):
    pass


def _rejection(code: int, body: bytes) -> ExecFailed:
    try:
        status: Any = json.loads(body)
    except ValueError:
        status = {"message": body.decode(errors="replace")[:300]}
    error = ApiError.from_status(code, status)
    if code == 401:
        return _Unauthorized(str(error), code)
    return ExecFailed(str(error), error.code)


def exit_code_of(status_json: bytes) -> int:
    """The exit code in a v4/v5 status message; ``ExecFailed`` if the command did not start."""
    try:
        status = json.loads(status_json)
    except ValueError:
        raise ExecFailed(f"unreadable exec status: {status_json[:200]!r}") from None
    if not isinstance(status, dict):
        raise ExecFailed(f"unreadable exec status: {status_json[:200]!r}")
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message"))
                except (TypeError, ValueError):
                    break
    raise ExecFailed(str(status.get("message") or "the command failed to start"))
