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
from tests.support.timing import LOADED


class SlowHandlers:
    """``/slow``: handlers that run until the test releases them (at most 10 s), so that "while
    it runs" does not depend on how fast a loaded machine gets there."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.released = threading.Event()

    def run(self) -> None:
        self.started.release()
        self.released.wait(timeout=10)

    def wait_started(self, handlers: int = 1) -> None:
        for _ in range(handlers):
            assert self.started.acquire(timeout=10), "the /slow handler never started"


SLOW = SlowHandlers()


@pytest.fixture(autouse=True)
def slow() -> Iterator[SlowHandlers]:
    global SLOW
    SLOW = SlowHandlers()
    yield SLOW
    SLOW.released.set()


def answer(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("handler failed")
    if request.path == "/slow":
        SLOW.run()
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
        # An HTTP/1.0 client closes unless the answer says the connection stays open.
        assert read_response(connection)[1]["connection"] == "keep-alive"
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
        (b"GET /x HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", "400"),
        (b"GET /x HTTP/1.1\r\nContent-Length: 0, 0\r\n\r\n", "400"),
        (b"GET /x HTTP/1.1\r\nContent-Length: +0\r\n\r\n", "400"),
        (b"GET /x HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
        (
            b"GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
            "400",
        ),
        (b"GET /x HTTP/1.1\r\nBad Name: 1\r\n\r\n", "400"),
        (b"G(T /x HTTP/1.1\r\n\r\n", "400"),
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
        if status == "405":
            assert headers["allow"] == "GET, HEAD"
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


def test_a_slow_handler_does_not_hold_up_another_connection(
    server: HttpServer, slow: SlowHandlers
) -> None:
    with connect(server) as busy, connect(server) as fast:
        busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        slow.wait_started()
        fast.sendall(b"GET /fast HTTP/1.1\r\n\r\n")
        assert read_response(fast)[2].startswith(b"GET /fast ")  # while /slow's still runs
        slow.released.set()
        assert read_response(busy)[2].startswith(b"GET /slow ")


def served(connection: socket.socket, path: str = "/x") -> bool:
    """Whether a request on ``connection`` is answered with 200."""
    try:
        connection.sendall(f"GET {path} HTTP/1.1\r\n\r\n".encode())
        return read_response(connection)[0] == "HTTP/1.1 200 OK"
    except (OSError, AssertionError):
        return False


def connect_from(server: HttpServer, address: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), 5, (address, 0))


def test_a_head_has_a_total_deadline_not_one_per_byte(
    server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT", 0.6)
    trickle = b"GET /loris HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100
    with connect(server) as loris:
        started = time.monotonic()
        for byte in trickle:  # a byte every 0.1 s: each well inside the deadline
            try:
                loris.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        assert closed_by_server(loris)
        assert time.monotonic() - started < 2.5


def test_a_response_has_a_total_deadline_not_one_per_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(httpd, "SEND_TIMEOUT", 0.6)
    http = HttpServer(
        "127.0.0.1", 0, lambda _: Response(200, "text/plain", b"x" * (8 << 20)), "test/1"
    )
    http.start()
    try:
        with connect(http) as sipper:
            sipper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sipper.sendall(b"GET /big HTTP/1.1\r\n\r\n")
            started, received = time.monotonic(), 0
            while time.monotonic() - started < 5:  # takes 4 KiB every 0.05 s
                try:
                    chunk = sipper.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += len(chunk)
                time.sleep(0.05)
            assert time.monotonic() - started < 2.5, "the slow reader was never cut off"
            assert received < 8 << 20
    finally:
        http.close()


def test_a_new_connection_takes_the_slot_of_the_longest_idle(
    server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpd, "MAX_CONNECTIONS", 2)
    with connect(server) as oldest, connect(server) as newer:
        assert served(oldest)
        time.sleep(0.05)
        assert served(newer)
        with connect(server) as third:
            assert served(third)  # not refused
            assert closed_by_server(oldest)
            assert served(newer)


def test_only_connections_running_their_handler_are_refused(
    server: HttpServer, slow: SlowHandlers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpd, "MAX_CONNECTIONS", 2)
    with connect(server) as a, connect(server) as b:
        a.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        b.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
        slow.wait_started(2)
        with connect(server) as third:
            line, _, body = read_response(third)
            assert line == "HTTP/1.1 503 Service Unavailable"
            assert body == b"too many connections\n"
        slow.released.set()
        assert read_response(a)[2].startswith(b"GET /slow ")
        assert read_response(b)[2].startswith(b"GET /slow ")
    deadline = time.monotonic() + 5
    while True:  # the slots are free again
        with connect(server) as again:
            if served(again):
                break
        assert time.monotonic() < deadline, "the slots were never freed"
        time.sleep(0.05)


def test_one_address_cannot_hold_every_slot(
    server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpd, "MAX_PER_ADDRESS", 2)
    monkeypatch.setattr(httpd, "MAX_CONNECTIONS", 3)
    with connect_from(server, "127.0.0.1") as scraper:
        assert served(scraper)
        time.sleep(0.05)  # the scraper's connection is now the longest idle of all
        attacker = [connect_from(server, "127.0.0.2") for _ in range(2)]
        for connection in attacker:
            assert served(connection)
            time.sleep(0.05)  # each waits longer than the next
        # Past its address's cap, the attacker only displaces its own connections ...
        attacker.append(connect_from(server, "127.0.0.2"))
        assert served(attacker[-1])
        assert closed_by_server(attacker[0])
        # ... and with every slot taken, a newcomer displaces the address that holds the most.
        with connect_from(server, "127.0.0.3") as newcomer:
            assert served(newcomer)
            assert closed_by_server(attacker[1])
            assert served(scraper)
        for connection in attacker:
            connection.close()


def test_close_does_not_wait_for_idle_or_busy_connections(slow: SlowHandlers) -> None:
    http = HttpServer("127.0.0.1", 0, answer, server_name="test/1")
    http.start()
    idle = connect(http)
    busy = connect(http)
    busy.sendall(b"GET /slow HTTP/1.1\r\n\r\n")
    slow.wait_started()
    started = time.monotonic()
    http.close()
    # At once (more on a loaded machine): waiting for the busy handler would take its 10 s.
    assert time.monotonic() - started < LOADED
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


def test_the_date_line_is_current(server: HttpServer) -> None:
    with connect(server) as connection:
        before = time.time()
        connection.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        _, headers, _ = read_response(connection)
    sent = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
    assert int(before) - 1 <= sent <= time.time()
    assert headers["server"] == "test/1"
