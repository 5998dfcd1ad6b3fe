"""TLS helpers shared by the network probe kinds (``tcp``, ``http``).

Stable API (the ``http`` kind imports these):

- ``CERT_EXPIRY``: the ``site_status_tls_cert_expiry_timestamp_seconds`` family (no labels).
- ``ExpiryDaysLimits``: lower limits in days (``{warning: 14, critical: 7}``; a single value is
  critical); ``default_expiry_limits()`` gives that default.
- ``make_ssl_context(verify, ca_file, cert_file, key_file)``: a client ``ssl.SSLContext``
  (``exporter.outbound.ssl_context`` with a probe's settings).
- ``shared_ssl_context(context, verify, ca_file, cert_file, key_file)``: the same, made once per
  runtime (building a context is costly, see docs/benchmarks.md) through ``ProbeContext.shared``.
- ``cert_not_after(ssl_object)``: the peer certificate's notAfter as a Unix timestamp, also when
  ``verify`` is off (then read from the DER certificate), or ``None``.
- ``graded_expiry(limits, not_after, now)``: ``(status, "certificate expires in 3 days (min 7)")``.
"""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from exporter.outbound import TlsSettings, ssl_context
from exporter.probe_api import MetricFamily, Status
from exporter.thresholds import Limits

if TYPE_CHECKING:
    from exporter.probe_api import ProbeContext

__all__ = [
    "CERT_EXPIRY",
    "ExpiryDaysLimits",
    "cert_not_after",
    "default_expiry_limits",
    "describe_days",
    "graded_expiry",
    "make_ssl_context",
    "shared_ssl_context",
]

DAY = 86400.0

CERT_EXPIRY = MetricFamily(
    "site_status_tls_cert_expiry_timestamp_seconds",
    "Unix time when the peer's TLS certificate expires (its notAfter).",
)


class ExpiryDaysLimits(Limits):
    """Days a certificate must still be valid: a plain limit alerts BELOW it."""

    direction: ClassVar[str] = "lower"


def default_expiry_limits() -> ExpiryDaysLimits:
    """Warn under 14 days, critical under 7."""
    return ExpiryDaysLimits.model_validate({"warning": 14, "critical": 7})


def make_ssl_context(
    verify: bool, ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """A client context: the system CAs (or only ``ca_file``), optional client certificate.

    With ``verify=False`` neither the chain nor the host name is checked (the certificate's
    expiry is still read by ``cert_not_after``).
    """
    return ssl_context(
        TlsSettings(
            ca_file=Path(ca_file) if ca_file else None,
            insecure=not verify,
            client_cert_file=Path(cert_file) if cert_file else None,
            client_key_file=Path(key_file) if key_file else None,
        )
    )


def shared_ssl_context(
    context: ProbeContext,
    verify: bool,
    ca_file: str | None,
    cert_file: str | None = None,
    key_file: str | None = None,
) -> ssl.SSLContext:
    """``make_ssl_context`` made once per runtime for these settings (files read once)."""
    key = ("ssl-context", verify, ca_file, cert_file, key_file)
    return context.shared(key, lambda: make_ssl_context(verify, ca_file, cert_file, key_file))


def cert_not_after(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> float | None:
    """The peer certificate's notAfter (Unix seconds), or ``None`` without a certificate."""
    decoded = ssl_object.getpeercert()
    if decoded and isinstance(decoded.get("notAfter"), str):
        return float(ssl.cert_time_to_seconds(str(decoded["notAfter"])))
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return der_not_after(der)
    except (IndexError, ValueError):
        return None


def der_not_after(der: bytes) -> float:
    """notAfter from a DER X.509 certificate (unverified peers give no decoded form)."""
    _, body, _ = der_element(der, 0)  # Certificate
    _, offset, end = der_element(der, body)  # tbsCertificate
    tag, start, stop = der_element(der, offset)
    if tag == 0xA0:  # [0] version
        offset = stop
    for _ in range(3):  # serialNumber, signature, issuer
        _, _, offset = der_element(der, offset)
    tag, validity, _ = der_element(der, offset)
    if tag != 0x30 or offset >= end:
        raise ValueError("no validity in certificate")
    _, _, after = der_element(der, validity)  # notBefore
    tag, start, stop = der_element(der, after)  # notAfter
    return der_time(tag, der[start:stop].decode("ascii"))


def der_element(der: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``offset``."""
    tag, length = der[offset], der[offset + 1]
    start = offset + 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(der[start : start + size], "big")
        start += size
    if start + length > len(der):
        raise ValueError("truncated DER element")
    return tag, start, start + length


def der_time(tag: int, text: str) -> float:
    """An X.509 UTCTime (0x17, two-digit year) or GeneralizedTime (0x18), in Unix seconds."""
    if tag == 0x17:
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:
        raise ValueError(f"unexpected time tag {tag:#x}")
    parsed = datetime.strptime(text.rstrip("Z"), "%Y%m%d%H%M%S")
    return parsed.replace(tzinfo=UTC).timestamp()


def graded_expiry(limits: Limits, not_after: float, now: float | None = None) -> tuple[Status, str]:
    """The status of the days left and the text: ``certificate expires in 3 days (min 7)``."""
    days = (not_after - (time.time() if now is None else now)) / DAY
    status = limits.grade(days)
    text = f"certificate {describe_days(days)}"
    if status is Status.OK:
        return status, text
    return status, f"{text} ({limits.describe(status)})"


def describe_days(days: float) -> str:
    """``expires in 3 days``, ``expires in 5h``, ``expired 2 days ago``."""
    if days < 0:
        return f"expired {plural_days(-days)} ago"
    if days < 1:
        return f"expires in {days * 24:.0f}h"
    return f"expires in {plural_days(days)}"


def plural_days(days: float) -> str:
    whole = max(1, round(days))
    return "1 day" if whole == 1 else f"{whole} days"
