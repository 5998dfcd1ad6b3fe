"""Grading of HTTP healthz response bodies, for the ``http`` probe.

Pure functions: the probe fetches, ``grade_body`` grades what came back. One module per
format, each with its shape test and its status table: ``health_json`` (IETF draft),
``spring``, ``microprofile``, ``aspnet``, ``nestjs``, ``elasticsearch``, ``dropwizard``,
``consul``, ``gitlab``, ``k8s``, ``vault``, ``nextcloud``, ``patroni``, plus ``status_code``
and ``regex``; ``detect`` picks one for ``auto``; ``generic`` reads a JSON body no format
claims (with the words of ``vocabulary``), ``plain`` what a text page says; ``common`` holds the
verdict and the summary.

The body decides: when it parses as a health document, its status is the grade and the HTTP
code is taken as what that product sends with it (Spring's 503 with OUT_OF_SERVICE, Consul's
429 with a warning). A body with no health evidence leaves the grade to the code, and what it
says is quoted when the code is not the one expected.

Bad input (invalid JSON, odd shapes, undecodable bytes, a body cut at the size cap) is a graded
verdict, usually UNKNOWN with a reason, never an exception. Text taken from a body is kept as
text (markup is not interpreted), flattened to one line and capped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, get_args

from exporter.status import Status
from probes.http.health import detect, k8s, plain, regex, status_code
from probes.http.health.common import (
    MAX_COMPONENTS,
    OUTPUT_CAP,
    Component,
    Options,
    Verdict,
    decoded,
    is_success,
    one_line,
    unparsed,
    with_code,
)

__all__ = [
    "FORMATS",
    "MAX_COMPONENTS",
    "OUTPUT_CAP",
    "Component",
    "HealthFormat",
    "Options",
    "Verdict",
    "grade_body",
]

#: Every format's name, for the config schema; ``FORMATS`` is the same as a tuple.
HealthFormat = Literal[
    "auto",
    "health+json",
    "spring",
    "microprofile",
    "aspnet",
    "nestjs",
    "elasticsearch",
    "dropwizard",
    "consul",
    "gitlab",
    "k8s",
    "vault",
    "nextcloud",
    "patroni",
    "generic",
    "status-code",
    "regex",
]
FORMATS: tuple[str, ...] = get_args(HealthFormat)


def grade_body(
    fmt: str,
    code: int,
    content_type: str,
    body: bytes,
    *,
    regex: str | None = None,
    truncated: bool = False,
    status_map: Mapping[str, Status] | None = None,
    expects: Callable[[int], bool] = is_success,
    expect_text: str = "2xx, 3xx",
) -> Verdict:
    """Grade one HTTP answer as ``fmt`` (one of ``FORMATS``).

    ``status_map`` grades status words the formats do not know (any case); ``expects`` and
    ``expect_text`` judge the code when the body does not decide.
    """
    options = Options.of(status_map, expects=expects, expect_text=expect_text)
    return with_code(body_verdict(fmt, code, content_type, body, regex, truncated, options),
                     code, options)  # fmt: skip


def body_verdict(
    fmt: str,
    code: int,
    content_type: str,
    body: bytes,
    pattern: str | None,
    truncated: bool,
    options: Options,
) -> Verdict:
    if fmt == status_code.NAME:
        return detect.text_verdict(decoded(body[: plain.SEARCH_CAP]), code, options)
    if fmt not in FORMATS:
        return unparsed("auto", Status.UNKNOWN, f"unknown healthz format {one_line(fmt, 40)!r}")
    text = decoded(body)
    if truncated:
        return truncated_verdict(fmt, content_type, text)
    if fmt == "auto":
        return detect.auto_verdict(code, content_type, text, options)
    if fmt == regex.NAME:
        return regex.regex_verdict(text, pattern)
    if fmt == k8s.NAME:
        return k8s.verdict(code, text)
    return detect.format_verdict(fmt, code, text, options)


def truncated_verdict(fmt: str, content_type: str, text: str) -> Verdict:
    """A body cut at the size cap: UNKNOWN, in the format it seemed to be (the code still
    counts: an unexpected one makes it CRITICAL)."""
    if fmt == "auto":
        fmt = detect.format_of_prefix(content_type, text)
    return unparsed(fmt, Status.UNKNOWN, "body larger than the cap: cut, not graded")
