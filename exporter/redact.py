"""Keep secrets out of results, reports, logs and metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Query parameters whose values are credentials more often than not.
SECRET_PARAMETERS = re.compile(
    r"(pass(word|wd)?|secret|token|api[-_]?key|key|auth|signature|sig|credential)s?$", re.I
)
#: Secrets shorter than this are not masked in free text (they would mask ordinary words).
MIN_SECRET_LENGTH = 4


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
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if SECRET_PARAMETERS.search(k) and v]
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret replaced by ``***``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            text = text.replace(secret, MASK)
    return text


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


class RedactingFilter(logging.Filter):
    """A log filter for every handler: libraries log URLs (httpx logs each request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_urls_in(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
