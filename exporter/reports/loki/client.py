"""One push to Loki over httpx, answered as a ``PushOutcome``: delivered, retry, or drop.

Credentials come only from files (a mounted Secret), read at each push so a rotated secret is
picked up; they and anything the server echoes of them are masked in every reason we log.
"""

from __future__ import annotations

import dataclasses
import re
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from exporter import __version__
from exporter.backoff import parse_retry_after
from exporter.blocking import BlockingRunner
from exporter.config import LokiSettings
from exporter.outbound import TlsSettings, http_client, ssl_context
from exporter.redact import masked
from exporter.reports.stats import RetryCause
from exporter.secret_files import read_secret_text, read_single_line

if TYPE_CHECKING:
    import httpx

#: Statuses that will fail the same way however often they are sent.
DROP_STATUSES = {400: "bad_request", 422: "bad_request", 413: "too_large"}
#: Loki's answer to an entry with structured metadata when it is not allowed (Loki 2.9, where it
#: is off by default, and 3.x with a schema older than v13, which must turn it off):
#: ``DisallowedStructuredMetadataErrorMsg`` in grafana/loki pkg/validation/validate.go,
#: "stream '%s' includes structured metadata, but this feature is disallowed. Please see
#: `limits_config.allow_structured_metadata` (2.9-3.2: `limits_config.structured_metadata`)
#: or contact your Loki administrator to enable it."
METADATA_REFUSED = "includes structured metadata, but this feature is disallowed"
#: Loki groups a 400's entry errors (``util.GroupedErrors``): "N errors like: <msg>; ..." when
#: there are several, the bare message when there is one.
GROUPED_ERRORS = re.compile(r"(?:^|; )(\d{1,9}) errors like: ")
#: How much of an error body goes into a log line.
REASON_CHARS = 300
#: Reading a secret file or building a TLS context: local files, but never unbounded.
LOCAL_FILE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class PushOutcome:
    kind: Literal["ok", "retry", "drop"]
    #: The HTTP status, or None when there was no answer (connection refused, timeout).
    status: int | None
    #: One line, secrets masked.
    reason: str = ""
    retry_after: float | None = None
    #: For ``drop``: the ``site_status_reports_dropped_total`` reason.
    drop_reason: str | None = None
    #: Seconds the request took.
    duration: float = 0.0
    #: For ``retry``: why.
    cause: RetryCause | None = None
    #: For a 400: how many entries Loki's answer names as rejected (None: not said, so all).
    rejected: int | None = None
    #: Loki refused the entries because they carry structured metadata.
    metadata_refused: bool = False


@dataclass
class _Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


def classify(status: int, body: str, retry_after: str | None, secrets: list[str]) -> PushOutcome:
    """What to do with Loki's answer; total over any status, body and ``Retry-After``."""
    if 200 <= status < 300:
        return PushOutcome("ok", status)
    reason = one_line_reason(f"HTTP {status}: {body}", secrets)
    if status in DROP_STATUSES:
        return PushOutcome(
            "drop",
            status,
            reason,
            drop_reason=DROP_STATUSES[status],
            rejected=rejected_entries(body) if status == 400 else None,
            metadata_refused=status == 400 and METADATA_REFUSED in body,
        )
    # 429 and 5xx by the protocol; other statuses (401, 403, 404, 1xx, 3xx: a proxy or a wrong
    # URL) are configuration an operator fixes: the reports wait in the spool meanwhile.
    cause: RetryCause = (
        "rate_limited" if status == 429 else "unavailable" if status >= 500 else "refused"
    )
    return PushOutcome("retry", status, reason, parse_retry_after(retry_after), cause=cause)


def rejected_entries(body: str) -> int | None:
    """Entries a 400 names: the sum of Loki's "N errors like:" groups, 1 for a bare message,
    None for an empty body (a proxy's 400: then the whole batch is counted)."""
    if not body.strip():
        return None
    groups = GROUPED_ERRORS.findall(body)
    return sum(int(count) for count in groups) if groups else 1


def one_line_reason(text: str, secrets: list[str]) -> str:
    flat = " ".join(masked(text, secrets).split())
    return flat if len(flat) <= REASON_CHARS else flat[:REASON_CHARS] + "…"


class LokiClient:
    def __init__(self, settings: LokiSettings, blocking: BlockingRunner) -> None:
        self.settings = settings
        self.url = settings.push_url()
        self.blocking = blocking
        self._client: httpx.AsyncClient | None = None

    def _credentials(self) -> _Credentials:
        credentials = _Credentials()
        settings = self.settings
        if settings.tenant:
            credentials.headers["X-Scope-OrgID"] = settings.tenant
        if settings.bearer_token_file:
            token = read_single_line(settings.bearer_token_file, "bearer token")
            credentials.headers["Authorization"] = f"Bearer {token}"
            credentials.secrets.append(token)
        if settings.basic_auth is not None:
            import base64

            password = read_secret_text(settings.basic_auth.password_file)
            pair = f"{settings.basic_auth.username}:{password}".encode()
            credentials.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            credentials.secrets += [password, base64.b64encode(pair).decode()]
        return credentials

    def _ssl_context(self) -> ssl.SSLContext:
        settings = self.settings
        return ssl_context(
            TlsSettings(
                ca_file=Path(settings.ca_file) if settings.ca_file else None,
                insecure=settings.insecure_skip_verify,
                client_cert_file=Path(settings.cert_file) if settings.cert_file else None,
                client_key_file=Path(settings.key_file) if settings.key_file else None,
            )
        )

    async def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            # A plain http:// push never does TLS (one URL, redirects not followed): httpx's
            # default context would load its CA bundle for nothing (docs/benchmarks.md).
            tls: ssl.SSLContext | None = None
            if self.url.startswith("https:"):
                tls = await self.blocking.call(
                    self._ssl_context, resource=None, timeout=LOCAL_FILE_TIMEOUT
                )
            self._client = http_client(
                tls,
                httpx.Timeout(self.settings.timeout),
                headers={"User-Agent": f"site-status/{__version__}"},
            )
        return self._client

    async def push(self, body: bytes) -> PushOutcome:
        """POST one gzipped JSON body; never raises for a failure of Loki or the network."""
        import httpx

        started = time.monotonic()
        try:
            credentials = await self.blocking.call(
                self._credentials, resource=None, timeout=LOCAL_FILE_TIMEOUT
            )
        except Exception as error:  # a missing secret file: retried, the operator fixes it
            reason = one_line_reason(f"cannot read credentials: {error}", [])
            return PushOutcome("retry", None, reason, cause="refused")
        try:
            client = await self._http()
            response = await client.post(
                self.url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                    **credentials.headers,
                },
            )
        except (httpx.HTTPError, OSError, ssl.SSLError) as error:
            reason = one_line_reason(
                f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
                credentials.secrets,
            )
            duration = time.monotonic() - started
            return PushOutcome("retry", None, reason, duration=duration, cause="unavailable")
        outcome = classify(
            response.status_code,
            response.text,
            response.headers.get("Retry-After"),
            credentials.secrets,
        )
        return dataclasses.replace(outcome, duration=time.monotonic() - started)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
