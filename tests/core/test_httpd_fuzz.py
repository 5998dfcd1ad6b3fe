"""Property tests of the request-head parser and of the server on arbitrary bytes (issue 13 §7):
always a Request or a 4xx/505, never another exception, and quickly."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.web.httpd import BadRequest, HttpServer, Request, Response, parse_head

STATUSES = {400, 405, 413, 505}
#: CPU seconds per head (thread time: a loaded machine's stall does not count).
PARSE_BOUND = 0.05
TOKEN = st.text(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    min_size=1,
    max_size=20,
)
#: Pieces a hostile or broken client puts in a head, mixed with arbitrary bytes.
PIECES = st.sampled_from(
    [
        b"GET",
        b"HEAD",
        b"POST",
        b" ",
        b"/metrics",
        b"?probe=a&status=CRITICAL",
        b"*",
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/2.0",
        b"\r\n",
        b"\n",
        b":",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"Connection: keep-alive",
        b"0",
        b"\t",
        b"\x00",
        b"\xff",
    ]
)
HEADS = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(PIECES, st.binary(max_size=8)), max_size=40).map(b"".join),
)


def parse_uncached(head: bytes) -> Request:
    return parse_head.__wrapped__(head)


@given(HEADS)
def test_a_head_parses_to_a_request_or_a_client_error(head: bytes) -> None:
    started = time.thread_time()
    try:
        request = parse_uncached(head)
    except BadRequest as error:
        assert error.status in STATUSES
        assert str(error)
    else:
        assert request.method in ("GET", "HEAD")
        assert request.path.startswith(("/", "*"))
        assert request.version in ("HTTP/1.1", "HTTP/1.0")
    assert time.thread_time() - started < PARSE_BOUND


@given(
    method=st.sampled_from(["GET", "HEAD"]),
    path=st.text("abcdefghijklmnopqrstuvwxyz0123456789/-._~%", max_size=40).map("/".__add__),
    query=st.text("abcdefghijklmnopqrstuvwxyz0123456789=&%,", max_size=40),
    headers=st.dictionaries(
        TOKEN.filter(lambda n: n.lower() not in ("content-length", "transfer-encoding")),
        st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
            max_size=40,
        ),
        max_size=8,
    ),
)
def test_a_well_formed_head_parses_to_what_it_says(
    method: str, path: str, query: str, headers: dict[str, str]
) -> None:
    target = f"{path}?{query}" if query else path
    lines = [f"{method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in headers.items())]
    request = parse_uncached("\r\n".join(lines).encode("latin-1"))
    assert (request.method, request.path, request.query) == (method, path, query)
    expected = {n.lower(): v.strip(" \t") for n, v in headers.items()}
    assert dict(request.headers) == expected


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    http = HttpServer("127.0.0.1", 0, lambda r: Response(200, "text/plain", b"ok\n"), "fuzz/1")
    http.start()
    yield http
    http.close()


def exchange(server: HttpServer, data: bytes) -> bytes:
    """What the server answers to ``data`` sent whole, then half-closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


@settings(max_examples=50)
@given(st.lists(HEADS, min_size=1, max_size=3).map(b"\r\n\r\n".join))
def test_the_server_answers_any_bytes_with_http_or_silence(server: HttpServer, data: bytes) -> None:
    answer = exchange(server, data)
    if answer:
        assert answer.startswith(b"HTTP/1.1 ")
        assert int(answer[9:12]) in STATUSES | {200}
    assert exchange(server, b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 200 OK\r\n")
