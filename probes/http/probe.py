"""The ``http`` probe kind: a healthz endpoint answers, answers correctly, and will keep answering.

The body is graded in the format the endpoint speaks (``probes.http.health``); status code, body
patterns, a JSON field, latency and the TLS certificate's remaining days are checked on top.
One client (``exporter.outbound.http_client``) per distinct TLS setting is shared by every run: a
new one builds an SSL context, the costliest part of a probe (docs/benchmarks.md). httpx is
imported only when an http probe runs.
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import json
import re
import ssl
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exporter.failure_text import (
    Failure,
    connection_closed,
    endpoint,
    leaf_errors,
    network_failure,
    timed_out,
    tls_failed,
)
from exporter.outbound import http_client
from exporter.probe_api import (
    AbsolutePath,
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Reason,
    Result,
    Sample,
    Size,
)
from exporter.redact import (
    basic_auth_secrets,
    header_secrets,
    masked,
    redact,
    redact_json,
    redact_url,
    remember_secrets,
    url_secrets,
)
from exporter.secret_files import read_secret_text, read_single_line
from exporter.status import Status
from exporter.thresholds import DurationLimits
from exporter.units import format_duration, format_size
from exporter.user_regex import UserRegex, user_regex_search
from probes import tls
from probes.deadline import own_budget
from probes.http import health
from probes.http.health import HealthFormat
from probes.http.health.common import json_value

if TYPE_CHECKING:
    import httpx

STATUS_CODE = MetricFamily("site_status_http_status_code", "HTTP status code of the last answer.")
DURATION = MetricFamily(
    "site_status_http_duration_seconds",
    "Time spent in each phase of the last request (connect, tls, request, wait, body).",
    ("phase",),
)
COMPONENT = MetricFamily(
    "site_status_http_component_status",
    "Nagios code of each component the healthz body reports (capped per probe).",
    ("component",),
)
COMPONENTS_OMITTED = MetricFamily(
    "site_status_http_components_omitted",
    "Components the healthz body reports that have no component_status series "
    "(over max_components; the worst are kept).",
)
BODY_BYTES = MetricFamily("site_status_http_body_bytes", "Bytes of the body read (up to the cap).")

SUMMARY_TEXT_CAP = 200


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    #: A file holding the password (a mounted Secret), never the password itself.
    password_file: AbsolutePath


class JsonField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Dotted path into the body: ``status``, ``data.0.state``.
    path: str
    equals: Any


class HttpProbe(ProbeConfig):
    """An HTTP(S) endpoint, graded on its status, body, latency and certificate."""

    kind: Literal["http"]
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    #: Header values read from files (mounted Secrets): ``{X-API-Key: /run/secrets/key}``.
    #: Always masked in what the probe reports, as are ``headers`` named like a credential.
    header_files: dict[str, AbsolutePath] = Field(default_factory=dict)
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token_file: AbsolutePath | None = None
    format: HealthFormat = "auto"
    #: For ``format: regex``: the body must match (e.g. ``iamalive``).
    regex: UserRegex | None = None
    #: Codes, ``2xx``-style classes or ``200-299`` ranges. Judged when the body is no health
    #: document; when it is one, only if set here (the body's status decides otherwise).
    expect_status: tuple[int | str, ...] = ("2xx", "3xx")
    #: Grades for status words a product defines itself (Spring's ``FATAL``), any case.
    status_map: dict[str, Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]] = Field(
        default_factory=dict
    )
    body_must_match: tuple[UserRegex, ...] = ()
    body_must_not_match: tuple[UserRegex, ...] = ()
    json_field: JsonField | None = None
    latency: DurationLimits | None = None
    cert_expiry_days: tls.ExpiryDaysLimits = Field(default_factory=tls.default_expiry_limits)
    verify: bool = True
    ca_file: AbsolutePath | None = None
    client_cert: AbsolutePath | None = None
    client_key: AbsolutePath | None = None
    #: Redirects followed; 0 means a redirect is the answer.
    max_redirects: int = Field(default=5, ge=0, le=30)
    max_body_bytes: Size = Field(default=1024 * 1024, ge=1)
    max_components: int = Field(default=20, ge=0, le=200)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http:// or https:// with a host")
        return url

    @field_validator("expect_status")
    @classmethod
    def _status_patterns(cls, value: tuple[int | str, ...]) -> tuple[int | str, ...]:
        for pattern in value:
            status_matcher(pattern)
        return value

    @model_validator(mode="after")
    def _regex_for_regex_format(self) -> HttpProbe:
        if self.format == "regex" and not self.regex:
            raise ValueError("format regex needs regex")
        return self


def status_matcher(pattern: int | str) -> tuple[int, int]:
    """The inclusive code range of ``200``, ``"2xx"`` or ``"200-299"``."""
    text = str(pattern).strip().lower()
    if re.fullmatch(r"[1-5]xx", text):
        return int(text[0]) * 100, int(text[0]) * 100 + 99
    if re.fullmatch(r"\d{3}-\d{3}", text):
        low, high = (int(part) for part in text.split("-"))
        if low <= high:
            return low, high
    if re.fullmatch(r"\d{3}", text):
        return int(text), int(text)
    raise ValueError(f"invalid expected status {pattern!r}: use 200, 2xx or 200-299")


def expected(code: int, patterns: tuple[int | str, ...]) -> bool:
    return any(low <= code <= high for low, high in map(status_matcher, patterns))


# --- the request ---------------------------------------------------------------------------


class HttpExchange:
    """What one request brought back, and when each phase ended."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.status_code: int | None = None
        self.content_type = ""
        self.body = b""
        self.truncated = False
        self.cert_not_after: float | None = None
        self.error: str | None = None
        #: The bounded reason of ``error`` (exporter/reasons.py).
        self.error_why = Reason.NETWORK
        self.stage = "connect"

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: remember when each phase completed and where we are."""
        if event.endswith(".complete"):
            self.marks[event.removesuffix(".complete")] = time.perf_counter()
        if event.endswith("send_request_headers.started"):
            self.stage = "request"
        elif event.endswith("receive_response_headers.started"):
            self.stage = "headers"

    def phases(self) -> dict[str, float]:
        """Seconds per phase, for the phases this request went through."""
        order = (
            ("connect", "connection.connect_tcp"),
            ("tls", "connection.start_tls"),
            ("request", "http11.send_request_body"),
            ("wait", "http11.receive_response_headers"),
        )
        phases, previous = {}, self.started
        for phase, event in order:
            mark = self.marks.get(event)
            if mark is not None:
                phases[phase] = max(0.0, mark - previous)
                previous = mark
        if "body" in self.marks:
            phases["body"] = max(0.0, self.marks["body"] - previous)
        return phases

    @property
    def elapsed(self) -> float:
        return max(self.marks.values(), default=time.perf_counter()) - self.started


def client_for(config: HttpProbe, context: ProbeContext) -> httpx.AsyncClient:
    """The shared client for this probe's TLS setting."""
    key = (
        "http",
        config.verify,
        config.ca_file,
        config.client_cert,
        config.client_key,
        config.max_redirects,
    )

    def make() -> httpx.AsyncClient:
        ssl_context = tls.make_ssl_context(
            config.verify, config.ca_file, config.client_cert, config.client_key
        )
        # The client is shared for its connections only: a cookie one run is given must not
        # change what the next run asks (blackbox_exporter starts every probe without cookies).
        return http_client(
            ssl_context,
            None,
            max_redirects=config.max_redirects,
            cookies=NoCookieJar(),
            keepalive=100,
            on_asyncio=True,
        )

    return context.shared(key, make)


class NoCookieJar(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


async def read_secret(path: str, context: ProbeContext, header: str | None = None) -> str:
    """A secret file's text, through the one secret-file reader (``exporter.secret_files``);
    for a ``header`` it must be one line of visible ASCII."""
    mount = context.mounts().containing(path)
    resource = mount.mountpoint if mount else None
    if header is not None:
        return await context.blocking(read_single_line, path, header, resource=resource)
    return await context.blocking(read_secret_text, path, resource=resource)


async def request_headers(
    config: HttpProbe, context: ProbeContext
) -> tuple[dict[str, str], list[str]]:
    """Headers with credentials from files, and every secret to mask in what we report."""
    headers = dict(config.headers)
    secrets = url_secrets(config.url) + header_secrets(headers)
    for name, path in config.header_files.items():
        headers[name] = await read_secret(path, context, f"{name} header value")
        secrets.append(headers[name])
    if config.bearer_token_file:
        token = await read_secret(config.bearer_token_file, context, "bearer token")
        headers["Authorization"] = f"Bearer {token}"
        secrets.append(token)
    return headers, secrets


async def exchange(config: HttpProbe, context: ProbeContext) -> tuple[HttpExchange, list[str]]:
    import httpx

    result = HttpExchange()
    headers, secrets = await request_headers(config, context)
    auth = None
    if config.basic_auth:
        password = await read_secret(config.basic_auth.password_file, context)
        secrets += basic_auth_secrets(config.basic_auth.username, password)
        auth = httpx.BasicAuth(config.basic_auth.username, password)
    client = client_for(config, context)
    budget = own_budget(context)  # ends before the runner's deadline: a graded timeout
    failure: Failure | None = None
    with anyio.move_on_after(budget) as scope:
        try:
            async with client.stream(
                config.method,
                config.url,
                headers=headers,
                auth=auth,
                content=config.body,
                follow_redirects=config.max_redirects > 0,
                extensions={"trace": result.trace},
            ) as response:
                result.status_code = response.status_code
                result.content_type = response.headers.get("content-type", "")
                result.cert_not_after = peer_cert_not_after(response)
                result.stage = "body"
                await read_capped(response, result, config.max_body_bytes)
        except httpx.HTTPError as error:
            failure = transport_failure(error, result.stage, config.url)
    if scope.cancelled_caught:
        failure = timeout_failure(result, context.timeout, config.url)
    if failure is not None:
        result.error, result.error_why = failure.text, failure.reason
    return result, secrets


async def read_capped(response: httpx.Response, result: HttpExchange, cap: int) -> None:
    """Read at most ``cap`` bytes of the body; never the whole of a larger one."""
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            result.truncated = True
            break
    result.body = b"".join(chunks)[:cap]
    result.marks["body"] = time.perf_counter()


def peer_cert_not_after(response: httpx.Response) -> float | None:
    # Only over TLS (the final URL, after redirects): asking a plain connection for its
    # ssl_object builds the network backend's whole attribute table for nothing.
    if response.url.scheme != "https":
        return None
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    return tls.cert_not_after(ssl_object) if ssl_object is not None else None


def transport_failure(error: httpx.HTTPError, stage: str, url: str) -> Failure:
    """What went wrong on the wire, worded as every kind words it (``exporter.failure_text``):
    ``cannot connect to 127.0.0.1:8080: connection refused``, ``TLS handshake with ...``."""
    import httpx

    host, port = peer(error, url)
    target = endpoint(host, port)
    causes = leaf_errors(error)
    text = str(error) or type(error).__name__
    if isinstance(error, httpx.TooManyRedirects):
        return Failure(f"too many redirects ({text})", Reason.NETWORK)
    ssl_error = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if ssl_error is not None:
        return tls_failed(target, ssl_error)
    if isinstance(error, httpx.ConnectError):
        return network_failure(host, port, error)
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
        where = "mid-body" if stage == "body" else "before the answer"
        return connection_closed(target, where, error)
    reason = Reason.TIMEOUT if isinstance(error, httpx.TimeoutException) else Reason.NETWORK
    return Failure(f"{type(error).__name__}: {text}", reason)


def peer(error: httpx.HTTPError, url: str) -> tuple[str, int]:
    """The host and port the failed request went to (after redirects, if any)."""
    import httpx

    try:
        request_url = error.request.url
    except RuntimeError:  # an error raised before a request existed
        request_url = httpx.URL(url)
    return request_url.host, request_url.port or (443 if request_url.scheme == "https" else 80)


def timeout_failure(result: HttpExchange, timeout: float, url: str) -> Failure:
    """``timed out after 5s connecting to shop.example:443``; the stage the request was in."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = endpoint(host, parts.port or (443 if parts.scheme == "https" else 80))
    if result.stage == "body":
        failure = timed_out(timeout, "reading the body from", target)
        return Failure(f"{failure.text} (the headers came, then it stalled)", failure.reason)
    if result.stage in ("request", "headers"):
        return timed_out(timeout, "waiting for an answer from", target)
    if "connection.connect_tcp" in result.marks:
        return timed_out(timeout, "in the TLS handshake with", target)
    return timed_out(timeout, "connecting to", target)


# --- grading -------------------------------------------------------------------------------


#: A finding: its status, its words, its bounded reason and the failing part (or "").
Finding = tuple[Status, str, Reason, str]


def body_checks(config: HttpProbe, text: str) -> list[tuple[Status, str]]:
    """Failed body patterns and JSON field assertions."""
    failures = []
    for pattern in config.body_must_match:
        if not user_regex_search(pattern, text):
            failures.append((Status.CRITICAL, f"body does not match /{pattern}/"))
    for pattern in config.body_must_not_match:
        if user_regex_search(pattern, text):
            failures.append((Status.CRITICAL, f"body matches /{pattern}/"))
    if config.json_field is not None:
        failure = json_field_failure(config.json_field, text)
        if failure:
            failures.append((Status.CRITICAL, failure))
    return failures


def json_field_failure(assertion: JsonField, text: str) -> str | None:
    try:
        value: Any = json_value(text)  # bounded: see MAX_JSON_VALUES
    except ValueError as error:
        return f"{assertion.path}: body is not JSON ({error})"
    for part in assertion.path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return f"{assertion.path}: not in the body"
    if value != assertion.equals:
        shown = json.dumps(value)[:80]
        return f"{assertion.path} is {shown}, expected {json.dumps(assertion.equals)[:80]}"
    return None


def graded(
    config: HttpProbe, result: HttpExchange
) -> tuple[Status, list[str], health.Verdict | None, tuple[Reason, str]]:
    """The status, the reasons for it (worst first), the verdict, and the bounded reason and
    part of the first finding at the worst status."""
    if result.error is not None or result.status_code is None:
        return Status.CRITICAL, [result.error or "no answer"], None, (result.error_why, "")
    code = result.status_code
    findings: list[Finding] = []
    verdict = body_verdict(config, result)
    if verdict.status is not Status.OK or verdict.components:
        findings.append((verdict.status, verdict.summary, *verdict_why(verdict, code)))
    explicit = "expect_status" in config.model_fields_set
    if verdict.body_decides and explicit and not expected(code, config.expect_status):
        findings.append((Status.CRITICAL, unexpected_code(code, config), Reason.HTTP_STATUS, ""))
    if not result.truncated:
        body = result.body.decode("utf-8", errors="replace")
        findings += [(s, text, Reason.BODY, "") for s, text in body_checks(config, body)]
    if config.latency is not None:
        latency_status = config.latency.grade(result.elapsed)
        if latency_status is not Status.OK:
            took = format_duration(result.elapsed)
            limit = config.latency.describe(latency_status)
            findings.append((latency_status, f"took {took} ({limit})", Reason.SLOW, ""))
    if result.cert_not_after is not None:
        expiry = tls.graded_expiry(config.cert_expiry_days, result.cert_not_after)
        findings.append((*expiry, Reason.CERT_EXPIRY, ""))
    ranked = sorted(findings, key=lambda f: -f[0].severity)
    status = ranked[0][0] if ranked else Status.OK
    reasons = [text for s, text, _, _ in ranked if s is not Status.OK]
    why = (ranked[0][2], ranked[0][3]) if ranked else (Reason.ERROR, "")
    return status, reasons, verdict, why


def verdict_why(verdict: health.Verdict, code: int) -> tuple[Reason, str]:
    """A failing component names itself; without one, the code or the body decided."""
    failing = [c for c in verdict.components if c.status is not Status.OK]
    if failing:
        worst_first = max(failing, key=lambda c: c.status.severity)
        return Reason.COMPONENT, worst_first.name
    if not verdict.body_decides or code >= 400:
        return Reason.HTTP_STATUS, ""
    return Reason.BODY, ""


def body_verdict(config: HttpProbe, result: HttpExchange) -> health.Verdict:
    """The body graded in the configured format; the code judged by ``expect_status`` when
    the body does not decide (it is no health document, or it was cut at the cap)."""
    code = result.status_code or 0
    verdict = health.grade_body(
        config.format,
        code,
        result.content_type,
        result.body,
        regex=config.regex,
        truncated=result.truncated,
        status_map={word: Status[grade] for word, grade in config.status_map.items()},
        expects=lambda answered: expected(answered, config.expect_status),
        expect_text=", ".join(map(str, config.expect_status)),
    )
    if result.truncated and verdict.status is Status.UNKNOWN:
        cap = format_size(config.max_body_bytes)
        verdict = dataclasses.replace(
            verdict, summary=f"body larger than the {cap} cap: cut, not graded"
        )
    return verdict


def unexpected_code(code: int, config: HttpProbe) -> str:
    return f"HTTP {code}, expected " + ", ".join(map(str, config.expect_status))


def result_of(config: HttpProbe, result: HttpExchange, secrets: list[str]) -> Result:
    status, reasons, verdict, (why, part) = graded(config, result)
    url = redact_url(config.url)
    if reasons:
        summary = "; ".join(reason[:SUMMARY_TEXT_CAP] for reason in reasons)
    else:
        summary = f"HTTP {result.status_code} in {format_duration(result.elapsed)}"
    details: dict[str, Any] = {
        "url": url,
        "method": config.method,
        "status_code": result.status_code,
        "seconds": round(result.elapsed, 6),
        "phases": {k: round(v, 6) for k, v in result.phases().items()},
        "body_bytes": len(result.body),
        "truncated": result.truncated,
    }
    if verdict is not None:
        details["format"] = verdict.format
        details["components"] = [
            {"name": c.name, "status": c.status.name, "output": c.output}
            for c in verdict.components
        ]
    if result.cert_not_after is not None:
        details["certificate_not_after"] = result.cert_not_after
    out = samples(config, result, verdict)
    if secrets:  # a backend may echo them back, in any encoding
        remember_secrets(secrets)  # for log lines too
        summary = masked(summary, secrets)
        details = redact_json(details, secrets)
        out = redacted_samples(out, secrets)
        part = redact(part, secrets)
    return Result(status, summary, details, out, reason=why, part=part)


def redacted_samples(out: tuple[Sample, ...], secrets: list[str]) -> tuple[Sample, ...]:
    """Samples whose labels (component names from the body) carry no secret; two that the
    masking made alike become one, the worse."""
    merged: dict[tuple[str, tuple[str, ...]], Sample] = {}
    for sample in out:
        labels = tuple(redact(label, secrets) for label in sample.labels)
        key = (sample.family, labels)
        if key not in merged or sample.value > merged[key].value:
            merged[key] = Sample(sample.family, sample.value, labels)
    return tuple(merged.values())


def samples(
    config: HttpProbe, result: HttpExchange, verdict: health.Verdict | None
) -> tuple[Sample, ...]:
    out = [Sample(DURATION.name, seconds, (phase,)) for phase, seconds in result.phases().items()]
    if result.status_code is not None:
        out.append(Sample(STATUS_CODE.name, float(result.status_code)))
        out.append(Sample(BODY_BYTES.name, float(len(result.body))))
    if result.cert_not_after is not None:
        out.append(Sample(tls.CERT_EXPIRY.name, result.cert_not_after))
    if verdict is not None:
        published, omitted = published_components(verdict, config.max_components)
        out += [Sample(COMPONENT.name, float(c.status), (c.name,)) for c in published]
        out.append(Sample(COMPONENTS_OMITTED.name, float(omitted)))
    return tuple(out)


def published_components(verdict: health.Verdict, limit: int) -> tuple[list[health.Component], int]:
    """The components that get a series: the ``limit`` worst (then by name), one per name;
    and how many the body reported that get none."""
    unique = list({c.name: c for c in verdict.components}.values())
    ranked = sorted(unique, key=lambda c: (-c.status.severity, c.name))
    kept = sorted(ranked[:limit], key=lambda c: c.name)
    return kept, len(verdict.components) + verdict.omitted - len(kept)


async def run(config: HttpProbe, context: ProbeContext) -> Result:
    result, secrets = await exchange(config, context)
    return result_of(config, result, secrets)


KIND = ProbeKind(
    config=HttpProbe,
    run=run,
    metrics=(STATUS_CODE, DURATION, COMPONENT, COMPONENTS_OMITTED, BODY_BYTES, tls.CERT_EXPIRY),
)
