"""The gate's source URLs as people write them: a usage mistake is exit 2, not "unreachable"."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit, urlunsplit

from exporter.redact import redact_url

#: The exporter's own paths: ``--url`` takes the exporter's base or its /status.
_STATUS_PATH = "/status"


def _checked(text: str, example: str) -> tuple[str, str, str]:
    """Scheme, host[:port] and path of an http(s) URL, or an ArgumentTypeError saying why (with
    any password in it masked)."""
    value = text.strip()
    if not value:
        raise argparse.ArgumentTypeError(f"empty: give a URL, e.g. http://{example}")
    if "://" not in value:
        suggestion = redact_url(f"http://{value}")
        given = suggestion.removeprefix("http://")
        raise argparse.ArgumentTypeError(f"{given!r} has no scheme: write {suggestion}")
    shown = redact_url(value)
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{shown!r}: the scheme must be http or https")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown!r}: the port is not a number") from None
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"{shown!r} names no host, e.g. http://{example}")
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{shown!r}: give the URL without ?query or #fragment")
    return parts.scheme.lower(), parts.netloc, parts.path.rstrip("/")


def exporter_url(text: str) -> str:
    """The exporter's base URL from its base or its /status URL (``--url``)."""
    scheme, netloc, path = _checked(text, "127.0.0.1:9918")
    path = path.removesuffix(_STATUS_PATH)
    return urlunsplit((scheme, netloc, path, "", ""))


def prometheus_url(text: str) -> str:
    """Prometheus' base URL (``--prometheus``)."""
    scheme, netloc, path = _checked(text, "prometheus:9090")
    return urlunsplit((scheme, netloc, path, "", ""))
