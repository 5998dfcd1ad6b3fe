"""Which format a body is (``auto``), from its content type and its shape, and the grading of
a body in a given format. The order of the shape tests matters where formats share words:
the more specific shape is tried first."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from exporter.status import Status
from probes.http.health import (
    aspnet,
    consul,
    dropwizard,
    elasticsearch,
    generic,
    gitlab,
    health_json,
    k8s,
    microprofile,
    nestjs,
    nextcloud,
    patroni,
    plain,
    spring,
    status_code,
    vault,
)
from probes.http.health.common import (
    Options,
    Verdict,
    is_json_media,
    json_type,
    json_value,
    media_type,
    unparsed,
)

ObjectGrader = Callable[[Mapping[str, Any], int, Options], Verdict]
TextGrader = Callable[[str, int, Options], Verdict]

#: JSON-object formats: name, shape test, grader; tried in this order under ``auto``.
OBJECT_FORMATS: tuple[tuple[str, Callable[[Mapping[str, Any]], bool], ObjectGrader], ...] = (
    (vault.NAME, vault.looks_like, vault.verdict),
    (nextcloud.NAME, nextcloud.looks_like, nextcloud.verdict),
    (patroni.NAME, patroni.looks_like, patroni.verdict),
    (consul.NAME, consul.looks_like, consul.verdict),
    (elasticsearch.NAME, elasticsearch.looks_like, elasticsearch.verdict),
    (aspnet.NAME, aspnet.looks_like, aspnet.verdict),
    (microprofile.NAME, microprofile.looks_like, microprofile.verdict),
    (health_json.NAME, health_json.looks_like, health_json.verdict),
    (nestjs.NAME, nestjs.looks_like, nestjs.verdict),
    (gitlab.NAME, gitlab.looks_like, gitlab.verdict),
    (spring.NAME, spring.looks_like, spring.verdict),
    (dropwizard.NAME, dropwizard.looks_like, dropwizard.verdict),
)
#: Plain-text formats, tried in this order under ``auto``.
TEXT_FORMATS: tuple[tuple[str, Callable[[str], bool], TextGrader], ...] = (
    (aspnet.NAME, aspnet.looks_like_text, aspnet.text_verdict),
    (consul.NAME, consul.looks_like_text, consul.text_verdict),
    (gitlab.NAME, gitlab.looks_like_text, gitlab.text_verdict),
    (k8s.NAME, k8s.looks_like_text, lambda text, code, _options: k8s.verdict(code, text)),
)
#: A JSON body in no format is decoded again to quote it only up to this size (the format
#: reading already paid for one decode; a larger one is quoted as text).
QUOTED_JSON_CAP = 64 * 1024
_OBJECT_GRADERS = {name: grader for name, _, grader in OBJECT_FORMATS}
_TEXT_GRADERS = {name: grader for name, _, grader in TEXT_FORMATS}


def looks_like_json(media: str, text: str) -> bool:
    """A JSON content type, or a body that starts like an object or an array (not like the
    ``[+]``/``[-]`` lines of Kubernetes)."""
    start = text.lstrip()[:3]
    return (
        is_json_media(media)
        or start.startswith("{")
        or (start.startswith("[") and start not in ("[+]", "[-]"))
    )


def auto_verdict(code: int, content_type: str, text: str, options: Options) -> Verdict:
    """Grade in the format the content type and body look like; by the code alone when the
    body is none of them."""
    media = media_type(content_type)
    if media == health_json.MEDIA_TYPE:
        return format_verdict(health_json.NAME, code, text, options)
    if looks_like_json(media, text):
        try:
            document = json_value(text)
        except ValueError as exc:
            if is_json_media(media):
                return unparsed("auto", Status.UNKNOWN, str(exc))
        else:
            return json_verdict(document, code, options)
    for _name, looks_like, grader in TEXT_FORMATS:
        if looks_like(text):
            return grader(text, code, options)
    return generic.word_verdict(text, code, options) or text_verdict(text, code, options)


def text_verdict(text: str, code: int, options: Options) -> Verdict:
    """A text or HTML body in no format: the code decides; for a code not expected, the
    body's first failure line is kept to be quoted (searched only then: it costs)."""
    said = "" if options.expects(code) else body_says(text)
    return unparsed(status_code.NAME, Status.OK, f"HTTP {code}", said=said)


def body_says(text: str) -> str:
    """What a body in no format says: a JSON document's reason fields or first values, a
    text or HTML page's first failure line."""
    if looks_like_json("", text) and len(text) <= QUOTED_JSON_CAP:
        try:
            return generic.quote(json_value(text))
        except ValueError:
            pass
    return plain.said(text)


def json_verdict(document: object, code: int, options: Options) -> Verdict:
    """A parsed JSON body in the first format its shape fits; one that fits none is read by
    the generic reader (``generic``): its status fields, flags and components, else the code."""
    if consul.looks_like(document):
        return consul.verdict(document, code, options)
    if isinstance(document, Mapping):
        for _name, looks_like, grader in OBJECT_FORMATS:
            if looks_like(document):
                return grader(document, code, options)
        word = document.get("status")
        if isinstance(word, str) and word.lower() in options.status_map:
            # An application's own word (Spring's custom statuses are the documented case).
            return spring.verdict(document, code, options)
        if isinstance(word, str) and word.lower() in health_json.STATUS_WORDS:
            return health_json.verdict(document, code, options)
    return generic.verdict(document, code, options)


def format_verdict(fmt: str, code: int, text: str, options: Options) -> Verdict:
    """Grade ``text`` as the named format (not ``auto``, ``regex`` or ``status-code``)."""
    if fmt == generic.NAME:
        try:
            read = generic.verdict(json_value(text), code, options)
        except ValueError:
            read = generic.word_verdict(text, code, options) or text_verdict(text, code, options)
        return dataclasses.replace(read, format=generic.NAME)
    if fmt in _TEXT_GRADERS and not looks_like_json("", text):
        return _TEXT_GRADERS[fmt](text, code, options)
    try:
        document = json_value(text)
    except ValueError as exc:
        return unparsed(fmt, Status.UNKNOWN, str(exc))
    if fmt == consul.NAME and isinstance(document, list):
        return consul.verdict(document, code, options)
    if not isinstance(document, Mapping):
        return unparsed(fmt, Status.UNKNOWN, f"JSON {json_type(document)}, not an object")
    return _OBJECT_GRADERS[fmt](document, code, options)


def format_of_prefix(content_type: str, text: str) -> str:
    """The format ``auto`` would use, judged from the start of a body cut at the cap;
    ``"auto"`` for JSON, where only the whole document tells the formats apart."""
    media = media_type(content_type)
    if media == health_json.MEDIA_TYPE:
        return health_json.NAME
    if looks_like_json(media, text):
        return "auto"
    first = text.lstrip().partition("\n")[0].strip()
    if k8s.PASSED.fullmatch(first) or k8s.FAILED.fullmatch(first):
        return k8s.NAME
    return status_code.NAME
