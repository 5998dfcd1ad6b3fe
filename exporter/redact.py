"""Keep secrets out of results, reports, logs and metrics, in every encoding they travel in.

A backend that echoes its request shows a password raw, a basic-auth header as
``base64(user:password)``, a query value URL-encoded, and all of it again JSON-escaped inside a
JSON body. ``redact`` masks each known secret in all of these forms (``secret_forms``), and
``redact_json`` masks the strings of a document before it is encoded, so that escaping cannot
hide a secret holding ``"`` or ``\\``.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Query parameters whose values are credentials more often than not.
SECRET_PARAMETERS = re.compile(
    r"(pass(word|wd)?|secret|token|api[-_]?key|key|auth|signature|sig|credential)s?$", re.I
)
#: Secrets shorter than this are not masked in free text (they would mask ordinary words).
MIN_SECRET_LENGTH = 4
#: Base64 of a secret inside a longer base64 text is found by its inner characters, which do
#: not depend on what comes before or after; fewer than this would match ordinary text.
MIN_BASE64_CORE = 6
#: Request header names whose values are credentials (``X-API-Key``, ``X-Auth-Token``,
#: ``Authorization``, ``Cookie``, ``X-Client-Secret``, ``X-Password``).
SECRET_HEADER = re.compile(r"key|token|auth|secret|cookie|pass(word|wd)?|session|credential", re.I)


def redact_url(url: str) -> str:
    """The URL without its password and secret-looking query values: ``https://u:***@h/?token=***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if SECRET_PARAMETERS.search(k) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The password and secret query values in ``url``, to mask wherever they show up."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password, unquote(parts.password)] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if SECRET_PARAMETERS.search(k) and v]
    return found


def header_secrets(headers: dict[str, str]) -> list[str]:
    """The values of headers whose names say they carry credentials."""
    return [value for name, value in headers.items() if SECRET_HEADER.search(name) and value]


def basic_auth_secrets(username: str, password: str) -> list[str]:
    """The password and the ``Authorization: Basic`` value that carries it."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return [password, token]


@functools.lru_cache(maxsize=4096)
def secret_forms(secret: str) -> frozenset[str]:
    """``secret`` as it may appear in output: raw, JSON- and repr-escaped, URL-encoded, base64."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        # As bytes (``Illegal header value b'Bearer ...'``): non-ASCII as \\xNN escapes.
        repr(secret.encode("utf-8", errors="surrogatepass"))[2:-1],
    }
    forms |= _base64_forms(secret.encode("utf-8", errors="surrogatepass"))
    if "\n" in secret:  # a file of many lines: a library may quote one of them
        for line in secret.splitlines():
            if len(line.strip()) >= MIN_SECRET_LENGTH:
                forms |= secret_forms(line.strip())
    return frozenset(form for form in forms if len(form) >= MIN_SECRET_LENGTH)


def _base64_forms(raw: bytes) -> set[str]:
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        # At each of the 3 alignments, the characters that depend on the secret's bytes alone.
        for offset, skip in ((0, 0), (1, 2), (2, 3)):
            encoded = encode(b"\0" * offset + raw).decode("ascii")
            if (offset + len(raw)) % 3:
                encoded = encoded[:-4]  # the last group mixes in what follows
            core = encoded[skip:]
            if len(core) >= MIN_BASE64_CORE:
                forms.add(core)
    return forms


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret, in every form of ``secret_forms``, replaced by ``***``."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            forms |= secret_forms(secret)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def masked(text: str, secrets: Iterable[str]) -> str:
    """The one masking path for text an outbound client reports (an error, a server's answer):
    every known secret in every form, passwords in URLs and secret query values. The http
    probe, the Kubernetes client, the Loki client and the gate all pass their text through it.
    """
    return redact_urls_in(redact(text, secrets))


def error_text(error: BaseException, secrets: Iterable[str]) -> str:
    """An exception as text for a result, a report or a log line, with ``masked``."""
    return masked(str(error) or type(error).__name__, secrets)


def credential_secrets(headers: dict[str, str]) -> list[str]:
    """What to mask of request headers that carry credentials: each value, and the token or
    the user:password pair inside an ``Authorization`` value."""
    found = header_secrets(headers)
    for name, value in headers.items():
        if name.lower() != "authorization":
            continue
        scheme, _, credential = value.partition(" ")
        if credential:
            found.append(credential)
            if scheme.lower() == "basic":
                try:
                    pair = base64.b64decode(credential, validate=True).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    continue
                found += [pair, pair.partition(":")[2]]
    return found


def redact_json(value: Any, secrets: Iterable[str]) -> Any:
    """A JSON-like document with the secrets masked in its strings (keys too), before encoding."""
    wanted = [secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH]
    if not wanted:
        return value
    return _redact_strings(value, wanted)


def _redact_strings(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {_redact_strings(k, secrets): _redact_strings(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_strings(item, secrets) for item in value]
    return value


#: Secrets the probes read (passwords, tokens, header values), masked in every log line too.
MAX_REMEMBERED_SECRETS = 1_000
_remembered: set[str] = set()
_remembered_lock = threading.Lock()


def remember_secrets(secrets: Iterable[str]) -> None:
    """Mask these in log lines from now on (bounded; the newest are kept only while room)."""
    with _remembered_lock:
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH and len(_remembered) < MAX_REMEMBERED_SECRETS:
                _remembered.add(secret)


def remembered_secrets() -> list[str]:
    with _remembered_lock:
        return list(_remembered)


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@", re.I)
_QUERY_SECRET = re.compile(
    r"([?&][^=&\s]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|key|auth|signature|sig|"
    r"credential)s?=)[^&\s\"']+",
    re.I,
)


def redact_urls_in(text: str) -> str:
    """Passwords in ``scheme://user:password@host`` and secret query values, anywhere in text."""
    return _QUERY_SECRET.sub(rf"\1{MASK}", _URL_PASSWORD.sub(rf"\1:{MASK}@", text))


_SECRET_ASSIGNMENT = re.compile(
    r"""((?:\b|["'])[\w.-]*(?:pass(?:word|wd)?|secret|token|api[-_]?key|credential)s?["']?"""
    r"""\s*(?:=>|=|:)\s*)("[^"]*"|'[^']*'|[^\s,;&)}\]]+)""",
    re.I,
)


def _masked_value(match: re.Match[str]) -> str:
    value = match[2]
    if value.upper() in ("YES", "NO"):  # MySQL's "(using password: YES)" says no secret
        return match[0]
    quote = value[0] if value[0] in "\"'" and len(value) > 1 else ""
    return f"{match[1]}{quote}{MASK}{quote}"


def redact_secret_assignments(text: str) -> str:
    """Values after ``password=``, ``'password' => '...'``, ``DB_PASSWORD: ...`` and the like.

    For free text from programs that dump settings in error messages (PHP stack traces).
    """
    return _SECRET_ASSIGNMENT.sub(_masked_value, text)


def redact_known(text: str) -> str:
    """Free text from anywhere (an exception's message): every secret a probe has read, in
    every encoding, passwords in URLs and secret query values, and ``password=...``."""
    return redact_secret_assignments(redact_urls_in(redact(text, remembered_secrets())))


class RedactingFilter(logging.Filter):
    """A log filter for every handler: libraries log URLs (httpx logs each request), and an
    error message may quote what a probe sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        secrets = remembered_secrets()
        cleaned = redact_urls_in(redact(message, secrets))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_urls_in(redact(record.exc_text, secrets))
        return True
