"""The small HTTP/1.1 server, spoken to over raw sockets so every byte on the wire is checked."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from exporter.web import httpd
from exporter.web.httpd import HttpServer, Request, Response


def answer(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("handler failed")
    if request.path == "/slow":
        time.sleep(1.0)
    body = f"{request.method} {request.path} ua={request.header('user-agent')}\n".encode()
    return Response(200, "text/plain", body, vary="Accept")


@pytest.fixture
def server() -> Iterator[HttpServer]:
    http = HttpServer("127.0.0.1", 0, answer, server_name="test/1")
    http.start()
    yield http
    http.close()


def connect(server: HttpServer) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return connection


_unread: dict[int, bytes] = {}


def read_response(
    connection: socket.socket, head_only: bool = False
) -> tuple[str, dict[str, str], bytes]:
    """One response: status line, headers (lower-case names) and body by Content-Length.
    Bytes of a following (pipelined) response are kept for the next call."""
    buffered = _unread.pop(connection.fileno(), b"")
    while b"\r\n\r\n" not in buffered:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed before a full response head: {buffered!r}"
        buffered += chunk
    head, _, rest = buffered.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in lines)
    headers = {name.lower(): value.strip() for name, _, value in fields}
    length = 0 if head_only else int(headers["content-length"])
    while len(rest) < length:
        chunk = connection.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    if rest[length:]:
        _unread[connection.fileno()] = rest[length:]
    return status, headers, rest[:length]


def closed_by_server(connection: socket.socket) -> bool:
    connection.settimeout(5)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True


def test_keep_alive_serves_requests_in_turn(server: HttpServer) -> None:
    with connect(server) as connection:
        for n in range(3):
            connection.sendall(
                f"GET /n{n}?q=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n".encode()
            )
            status, headers, body = read_response(connection)
            assert status == "HTTP/1.1 200 OK"
            assert body == f"GET /n{n} ua=t\n".encode()
            assert headers["content-type"] == "text/plain"
            assert headers["server"] == "test/1"
            assert headers["vary"] == "Accept"
            assert headers["date"].endswith("GMT")
            assert "connection" not in headers


def test_pipelined_requests_are_answered_in_order(server: HttpServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(connection)[2].startswith(b"GET /a ")
        assert read_response(connection)[2].startswith(b"GET /b ")


def test_http_1_0_closes_unless_asked_to_keep_alive(server: HttpServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        _, headers, _ = read_response(connection)
        assert headers["connection"] == "close"
        assert closed_by_server(connection)
    with connect(server) as connection:
        connection.sendall(b"GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        read_response(connection)
        connection.sendall(b"GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(connection)[2].startswith(b"GET /two ")


def test_connection_close_is_honoured(server: HttpServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert read_response(connection)[1]["connection"] == "close"
        assert closed_by_server(connection)


def test_head_sends_the_length_but_no_body(server: HttpServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n")
        status, headers, body = read_response(connection, head_only=True)
        assert status == "HTTP/1.1 200 OK"
        assert int(headers["content-length"]) == len(b"HEAD /h ua=\n")
        assert body == b""
        assert read_response(connection)[2] == b"GET /g ua=\n"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /metrics HTTP/1.1\r\n\r\n", "405"),
        (b"GET /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "413"),
        (b"GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "413"),
        (b"GARBAGE\r\n\r\n", "400"),
        (b"GET x HTTP/1.1\r\n\r\n", "400"),
        (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", "400"),
        (b"GET /x HTTP/2.0\r\n\r\n", "505"),
        (b"GET /x HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", "431"),
    ],
)
def test_bad_requests_get_a_status_and_a_closed_connection(
    server: HttpServer, request_bytes: bytes, status: str
) -> None:
    with connect(server) as connection:
        connection.sendall(request_bytes)
        line, headers, _ = read_response(connection)
        assert line.split(" ")[1] == status
        assert headers["connection"] == "close"
        assert closed_by_server(connection)


def test_a_failing_handler_is_a_500_and_the_server_goes_on(server: HttpServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /boom HTTP/1.1\r\n\r\n")
        assert read_response(connection)[0] == "HTTP/1.1 500 Internal Server Error"
        connection.sendall(b"GET /after HTTP/1.1\r\n\r\n")
        assert read_response(connection)[2].startswith(b"GET /after ")


def test_a_slow_client_is_cut_off_and_does_not_hold_up_others(
    server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT", 0.3)
    with connect(server) as loris, connect(server) as other:
        loris.sendall(b"GET /loris HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.monotonic()
        other.sendall(b"GET /other HTTP/1.1\r\n\r\n")
        assert read_response(other)[2].startswith(b"GET /other ")
        assert closed_by_server(loris)
        assert time.monotonic() - started < 3


def test_a_slow_handler_does_not_hold_up_another_connection(server: HttpServer) -> None:
    with connect(server) as slow, connect(server) as fast:
        slow.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        time.sleep(0.05)
        started = time.monotonic()
        fast.sendall(b"GET /fast HTTP/1.1\r\n\r\n")
        read_response(fast)
        assert time.monotonic() - started < 0.5
        assert read_response(slow)[2].startswith(b"GET /slow ")


def test_connections_beyond_the_limit_get_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpd, "MAX_CONNECTIONS", 2)
    http = HttpServer("127.0.0.1", 0, answer, server_name="test/1")
    http.start()
    try:
        held = [connect(http), connect(http)]
        for connection in held:  # both are being served
            connection.sendall(b"GET /held HTTP/1.1\r\n\r\n")
            read_response(connection)
        with connect(http) as third:
            line, _, body = read_response(third)
            assert line == "HTTP/1.1 503 Service Unavailable"
            assert body == b"too many connections\n"
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the freed slot is taken again
            with connect(http) as again:
                again.sendall(b"GET /again HTTP/1.1\r\n\r\n")
                if read_response(again)[0] == "HTTP/1.1 200 OK":
                    break
            assert time.monotonic() < deadline, "the slot was never freed"
            time.sleep(0.05)
        held[0].close()
    finally:
        http.close()


def test_close_does_not_wait_for_idle_or_busy_connections() -> None:
    http = HttpServer("127.0.0.1", 0, answer, server_name="test/1")
    http.start()
    idle = connect(http)
    busy = connect(http)
    busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
    time.sleep(0.05)
    started = time.monotonic()
    http.close()
    assert time.monotonic() - started < 0.5
    assert closed_by_server(idle)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", http.port), timeout=1)
    idle.close()
    busy.close()


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.fail("this machine has no IPv6: the exporter documents [::]:9918 as a listen value")
    http = HttpServer("::1", 0, answer, server_name="test/1")
    http.start()
    try:
        with socket.create_connection(("::1", http.port), timeout=5) as connection:
            connection.sendall(b"GET /v6 HTTP/1.1\r\n\r\n")
            assert read_response(connection)[2].startswith(b"GET /v6 ")
    finally:
        http.close()


def test_many_clients_at_once(server: HttpServer) -> None:
    failures: list[BaseException] = []

    def client(n: int) -> None:
        try:
            with connect(server) as connection:
                for k in range(20):
                    connection.sendall(f"GET /c{n}/{k} HTTP/1.1\r\n\r\n".encode())
                    assert read_response(connection)[2].startswith(f"GET /c{n}/{k} ".encode())
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures


def test_the_date_line_is_current_and_prepared_off_the_request_path(
    server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.publish({}, fresh_for=3.0)
    encoded: list[int] = []
    encode = httpd._CommonFields._encode

    def counted(self: httpd._CommonFields, second: int) -> bytes:
        encoded.append(second)
        return encode(self, second)

    monkeypatch.setattr(httpd._CommonFields, "_encode", counted)
    with connect(server) as connection:
        before = time.time()
        connection.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        _, headers, _ = read_response(connection)
    sent = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    assert int(before) - 1 <= sent <= time.time()
    assert headers["server"] == "test/1"
    # prepare() covered this second and the next, so the request encoded nothing (unless the
    # clock crossed two seconds meanwhile, which a loaded machine may do).
    assert encoded == [] or time.time() - before > 1


class Published:
    """A handler whose /metrics answers carry a representation, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.body = b"v1\n"

    def __call__(self, request: Request) -> Response:
        self.calls += 1
        if request.path == "/metrics":
            return Response(200, "text/plain", self.body, representation="metrics")
        return answer(request)


SCRAPE = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"


@pytest.fixture
def published() -> Iterator[tuple[HttpServer, Published]]:
    handler = Published()
    http = HttpServer("127.0.0.1", 0, handler, server_name="test/1")
    http.start()
    yield http, handler
    http.close()


def scrape(connection: socket.socket, request: bytes = SCRAPE) -> bytes:
    connection.sendall(request)
    status, _, body = read_response(connection)
    assert status == "HTTP/1.1 200 OK"
    return body


def test_a_learned_request_is_answered_from_published_bytes(
    published: tuple[HttpServer, Published],
) -> None:
    server, handler = published
    with connect(server) as connection:
        assert scrape(connection) == b"v1\n"  # the handler answers, and the server learns
        assert handler.calls == 1
        handler.body = b"v2\n"
        server.publish({"metrics": handler(Request("GET", "/metrics", {}))}, fresh_for=3.0)
        calls = handler.calls
        assert [scrape(connection) for _ in range(3)] == [b"v2\n"] * 3
        assert handler.calls == calls  # the published bytes answered, not the handler
        assert "metrics" in server.served()
        # Another request (other bytes) still goes to the handler.
        other = SCRAPE.replace(b"gzip", b"identity")
        assert scrape(connection, other) == b"v2\n"
        assert handler.calls == calls + 1


def test_published_bytes_go_stale_and_the_handler_answers_again(
    published: tuple[HttpServer, Published],
) -> None:
    server, handler = published
    with connect(server) as connection:
        scrape(connection)
        server.publish({"metrics": handler(Request("GET", "/metrics", {}))}, fresh_for=0.2)
        calls = handler.calls
        scrape(connection)
        assert handler.calls == calls
        time.sleep(0.3)  # nobody published since: the bytes are too old to send
        handler.body = b"fresh\n"
        assert scrape(connection) == b"fresh\n"
        assert handler.calls == calls + 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        SCRAPE.replace(b"GET", b"HEAD"),  # HEAD: another answer (no body)
        SCRAPE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),  # not kept alive
    ],
)
def test_only_kept_alive_gets_are_learned(
    published: tuple[HttpServer, Published], request_bytes: bytes
) -> None:
    server, handler = published
    with connect(server) as connection:
        connection.sendall(request_bytes)
        read_response(connection, head_only=request_bytes.startswith(b"HEAD"))
    server.publish({"metrics": handler(Request("GET", "/metrics", {}))}, fresh_for=3.0)
    calls = handler.calls
    with connect(server) as connection:
        connection.sendall(request_bytes)
        read_response(connection, head_only=request_bytes.startswith(b"HEAD"))
    assert handler.calls == calls + 1


def test_learned_requests_are_bounded(published: tuple[HttpServer, Published]) -> None:
    server, handler = published
    with connect(server) as connection:
        for n in range(httpd.MAX_LEARNED + 5):
            scrape(connection, SCRAPE.replace(b"Host: x", f"Host: x{n}".encode()))
    server.publish({"metrics": handler(Request("GET", "/metrics", {}))}, fresh_for=3.0)
    assert len(server._prepared) == httpd.MAX_LEARNED
    assert SCRAPE.replace(b"Host: x", b"Host: x0") not in server._prepared  # the oldest went
