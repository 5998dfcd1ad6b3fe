"""Grading of HTTP healthz response bodies, for the ``http`` probe.

Pure functions: the probe fetches, ``grade_body`` grades what came back. One module per format:

- ``health_json``: IETF draft-inadarei-api-health-check (``status`` pass/warn/fail, ``checks``
  keyed ``"component:measurement"``; older documents say ``details``).
- ``spring``: Spring Boot actuator (``status`` UP/OUT_OF_SERVICE/DOWN/UNKNOWN, nested
  ``components``; older documents nest ``details``).
- ``k8s``: Kubernetes verbose text (``[+]name ok`` / ``[-]name failed: reason``) or plain ``ok``.
- ``status_code``: 2xx-3xx is OK, anything else CRITICAL.
- ``regex``: the body must match a regular expression.
- ``detect``: ``auto``, one of the above, decided from the content type and the body.

Bad input (invalid JSON, odd shapes, undecodable bytes, a body cut at the size cap) is a graded
verdict, usually UNKNOWN with a reason, never an exception. Text taken from a body is kept as
text (markup is not interpreted), flattened to one line and capped.
"""

from __future__ import annotations

from exporter.status import Status
from probes.health.common import MAX_COMPONENTS, OUTPUT_CAP, Component, Verdict, decoded, one_line
from probes.health.detect import auto_verdict, grade_json, truncated_verdict
from probes.health.k8s import k8s_verdict
from probes.health.regex import regex_verdict
from probes.health.status_code import status_code_verdict

__all__ = ["FORMATS", "MAX_COMPONENTS", "OUTPUT_CAP", "Component", "Verdict", "grade_body"]

FORMATS = ("auto", "health+json", "spring", "k8s", "status-code", "regex")


def grade_body(
    fmt: str,
    status_code: int,
    content_type: str,
    body: bytes,
    *,
    regex: str | None = None,
    truncated: bool = False,
) -> Verdict:
    """Grade one HTTP answer as ``fmt`` (one of ``FORMATS``)."""
    if fmt == "status-code":
        return status_code_verdict(status_code)
    if fmt not in FORMATS:
        return Verdict(Status.UNKNOWN, f"unknown healthz format {one_line(fmt, 40)!r}", "auto")
    text = decoded(body)
    if truncated:
        return truncated_verdict(fmt, status_code, content_type, text)
    if fmt == "auto":
        return auto_verdict(status_code, content_type, text)
    if fmt == "regex":
        return regex_verdict(text, regex)
    if fmt == "k8s":
        return k8s_verdict(status_code, text)
    return grade_json(fmt, status_code, text)
