"""The gate's HTTP GET: one total deadline, a body cap, and errors without secrets.

httpx's timeouts bound each read, not the request: a server that sends a header line a second,
or a byte of body a second, never trips them, and a fast endless body grows the process until
the kernel ends it. Here the whole request (connect, headers, body) runs under one deadline in
an event loop on a helper thread (one keep-alive client for the whole run), the body is read up
to a cap, and the answer is parsed only once complete. What cannot be had is
``SourceUnreachable``, one line, with the URL's password and secret query values masked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import anyio
import anyio.from_thread
import httpx

from exporter.gate.model import SourceUnreachable
from exporter.redact import masked, redact_url, url_secrets
from exporter.units import format_duration, format_size
from exporter.visible_text import visible

#: The largest answer read. A Prometheus answer for 200 sites' failing probes is well under
#: 1 MiB, an exporter's /status a few KiB: this is room for far larger fleets, not a limit on them.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: How much of a server's own error text goes into the line.
ERROR_CHARS = 200


class _TooLarge(Exception):
    pass


class Fetcher:
    """``get_json`` with a total deadline of ``timeout`` seconds per request."""

    def __init__(self, timeout: float, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._portal_manager: AbstractContextManager[anyio.from_thread.BlockingPortal] | None
        self._portal_manager = None
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> Fetcher:
        self._portal_manager = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_manager.__enter__()
        # trust_env: a pipeline's proxy settings apply; identity: a compressed answer would
        # be inflated past the cap before it could be counted.
        self._client = httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=True,
            headers={"Accept": "application/json", "Accept-Encoding": "identity"},
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._portal is not None and self._portal_manager is not None
        if self._client is not None:
            self._portal.call(self._client.aclose)
        self._portal_manager.__exit__(kind, value, traceback)

    def get_json(self, url: str, params: Mapping[str, str] | None = None) -> tuple[Any, int]:
        """The parsed JSON answer and its HTTP status; ``SourceUnreachable`` otherwise."""
        assert self._portal is not None
        shown = redact_url(url)
        secrets = url_secrets(url)
        try:
            code, body = self._portal.call(self._get, url, params)
        except TimeoutError:
            raise SourceUnreachable(
                f"{shown}: no complete answer within {format_duration(self.timeout)} "
                "(--timeout covers connecting, headers and body)"
            ) from None
        except _TooLarge:
            raise SourceUnreachable(
                f"{shown}: the answer is larger than {format_size(self.max_bytes)}"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
            reason = str(error) or type(error).__name__
            raise SourceUnreachable(one_line(f"cannot reach {shown}: {reason}", secrets)) from None
        try:
            return json.loads(body), code
        except (ValueError, RecursionError):
            raise SourceUnreachable(f"{shown}: HTTP {code}, not JSON") from None

    async def _get(self, url: str, params: Mapping[str, str] | None) -> tuple[int, bytes]:
        assert self._client is not None
        with anyio.fail_after(self.timeout):
            async with self._client.stream("GET", url, params=params) as response:
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding not in ("", "identity"):
                    raise httpx.DecodingError(f"a {encoding[:20]} answer, asked for identity")
                chunks, size = [], 0
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _TooLarge
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks)


def one_line(text: str, secrets: list[str]) -> str:
    """Error text from a server or a library: secrets masked, one visible line, capped."""
    flat = visible(" ".join(masked(text, secrets).split()))
    return flat if len(flat) <= 2 * ERROR_CHARS else flat[: 2 * ERROR_CHARS - 1] + "…"
