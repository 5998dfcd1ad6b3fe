"""What every health format shares: the verdict, text and JSON helpers, the one-line summary."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.status import Status, worst

#: Components kept in a verdict; the most severe are kept first, the rest counted.
MAX_COMPONENTS = 100
#: Characters kept of a component's output, of the summary, of a name.
OUTPUT_CAP = 300
SUMMARY_CAP = 300
NAME_CAP = 100
#: Components named in a summary, and characters kept there of each name and each reason.
SUMMARY_NAMES = 5
SUMMARY_NAME_CAP = 40
SUMMARY_REASON_CAP = 80

_UNPRINTABLE_RUN = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
_STATE_WORD = {Status.CRITICAL: "failed", Status.UNKNOWN: "unknown", Status.WARNING: "warning"}


@dataclass(frozen=True, slots=True)
class Component:
    """One graded part of a healthz answer (``etcd``, ``db:connections``, ``db.primary``)."""

    name: str
    status: Status
    output: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A graded healthz answer: status, one line saying why, the format used, its parts.

    ``format`` is the format actually used; under ``auto`` it stays ``"auto"`` only when the
    body could not be read well enough to pick one (invalid JSON under a JSON content type,
    a JSON body cut at the size cap). ``body_decides`` is true when the body was read as a
    health document: then its status is the grade and the HTTP code is what that product
    sends with it. Otherwise the code was checked too. ``omitted`` counts components left out
    over ``MAX_COMPONENTS``. ``said`` is what a body that does not decide says (its first
    failure line, its reason fields): quoted when the code is not the one expected.
    """

    status: Status
    summary: str
    format: str
    components: tuple[Component, ...] = ()
    body_decides: bool = False
    omitted: int = 0
    said: str = ""


def is_success(status_code: int) -> bool:
    """2xx-3xx: the answer a healthy endpoint gives."""
    return 200 <= status_code < 400


@dataclass(frozen=True, slots=True)
class Options:
    """What the user configured that grading needs.

    ``status_map`` grades status words a product defines itself (Spring's ``FATAL``), lower
    case; it is consulted before each format's own table. ``expects``/``expect_text`` judge the
    HTTP code when the body does not decide.
    """

    status_map: Mapping[str, Status] = field(default_factory=dict)
    expects: Callable[[int], bool] = is_success
    expect_text: str = "2xx, 3xx"

    @classmethod
    def of(cls, status_map: Mapping[str, Status] | None = None, **kwargs: Any) -> Options:
        lowered = {key.lower(): value for key, value in (status_map or {}).items()}
        return cls(status_map=lowered, **kwargs)


DEFAULT_OPTIONS = Options()


# --- text ----------------------------------------------------------------------------------


def decoded(body: bytes) -> str:
    """The body as text: UTF-8, undecodable bytes replaced, a leading BOM dropped."""
    return body.decode("utf-8", errors="replace").removeprefix("\ufeff")


def one_line(text: str, limit: int = OUTPUT_CAP) -> str:
    """``text`` on one line (runs of whitespace and control characters become one space),
    at most ``limit`` characters."""
    flat = _UNPRINTABLE_RUN.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def text_of(value: object) -> str:
    """A JSON value as text: strings as they are, ``null`` as nothing, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def joined(*parts: str) -> str:
    """The non-blank parts, ``"; "``-joined, on one capped line."""
    return one_line("; ".join(part for part in parts if part.strip()))


def media_type(content_type: str) -> str:
    """``application/json`` from ``Application/JSON; charset=utf-8``."""
    return content_type.partition(";")[0].strip().lower()


def is_json_media(media: str) -> bool:
    return media.endswith(("/json", "+json"))


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, one-lined and capped."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line, 120)
    return ""


def plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    return "indices" if noun == "index" else noun + "s"


def scalar_text(values: Mapping[str, Any], skip: Collection[str] = ()) -> str:
    """``"free=1024, threshold=10485760"``: the entries that are single values."""
    return ", ".join(
        f"{key}={text_of(value)}"
        for key, value in values.items()
        if key not in skip and isinstance(value, str | int | float | bool)
    )


# --- JSON ----------------------------------------------------------------------------------


#: A body with more JSON values is not decoded: ``json.loads`` holds the event loop and the
#: GIL for the whole document (docs/benchmarks.md), and health documents have
#: about a hundred (the recorded corpus: at most 110). Counted on the text (``,`` ``[`` ``{``):
#: cheap, and never fewer than the values (tests/core/test_json_cost.py measures the rest).
MAX_JSON_VALUES = 5_000


def json_value(text: str) -> object:
    """The JSON value in ``text``; raises ``ValueError`` saying why there is none."""
    if text.count(",") + text.count("[") + text.count("{") > MAX_JSON_VALUES:
        raise ValueError(f"invalid JSON: more than {MAX_JSON_VALUES} values, not decoded")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ValueError(f"invalid JSON: {one_line(str(exc), 80)}") from None


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (``array``, ``string``, ...)."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    return "number"


def graded_word(
    raw: object, table: Mapping[str, Status], options: Options, *, missing: Status
) -> tuple[Status, str]:
    """A status word graded by the user's ``status_map``, then ``table`` (any case), and a note
    when it was not understood (``"no status"``, ``"unknown status 'degraded'"``)."""
    if raw is None:
        return missing, "" if missing is not Status.UNKNOWN else "no status"
    if isinstance(raw, str):
        word = raw.lower()
        if word in options.status_map:
            return options.status_map[word], ""
        if word in table:
            return table[word], ""
    return Status.UNKNOWN, f"unknown status {one_line(text_of(raw), 40)!r}"


# --- verdicts ------------------------------------------------------------------------------


def document_verdict(
    fmt: str,
    raw: object,
    table: Mapping[str, Status],
    components: Sequence[Component],
    status_code: int,
    options: Options,
    *,
    noun: str,
    needs_success: Collection[Status] = (Status.OK,),
    output: str = "",
    top_decides: bool = False,
    word_case: Callable[[str], str] = str.lower,
    floor: Status = Status.OK,
) -> Verdict:
    """The verdict on a health document whose top-level status is ``raw``.

    The document's status is the grade. It is made worse by a code that contradicts it (a
    status in ``needs_success`` sent with an error code) and, unless ``top_decides`` (the
    product aggregates its components itself, by rules the user may have configured), by a
    component known to be worse (with ``top_decides``, only by ``floor``: the worst grade the
    user's ``status_map`` gives a component). A component whose status is not understood never
    makes the grade worse: it is named in the summary. A top-level status that is not
    understood (nor mapped by ``status_map``) leaves the grade to the HTTP code.
    """
    top, note = graded_word(raw, table, options, missing=Status.UNKNOWN)
    if note:
        hint = " (grade it with status_map)" if raw is not None else ""
        summary = summary_line(note + hint, components, noun)
        return capped_verdict(Status.UNKNOWN, summary, fmt, components, body_decides=False)
    word = word_case(one_line(text_of(raw), 40))
    status, lead = top, word
    if top in needs_success and not is_success(status_code):
        status, lead = Status.CRITICAL, f"{word} but HTTP {status_code}"
    if output and top is not Status.OK:
        lead += f" ({one_line(output, SUMMARY_REASON_CAP)})"
    separator = ": "
    known = worst(c.status for c in components if c.status is not Status.UNKNOWN)
    worse = floor if top_decides else worst((known, floor))
    if worse.worse_than(status):
        status, separator = worse, " but "
    summary = summary_line(lead, components, noun, separator)
    return capped_verdict(status, summary, fmt, components)


def summary_line(
    lead: str, components: Sequence[Component], noun: str, separator: str = ": "
) -> str:
    """``"DOWN: 2 of 5 components failed: db (Connection refused), redis (timeout)"``: the
    lead, then the components that are not OK, worst first, each with its reason."""
    bad = worst_first([c for c in components if c.status is not Status.OK])
    total = len(components)
    if not bad:
        listing = f"{total} {plural(noun, total)} ok" if total else ""
    else:
        listing = named(bad)
        if total > len(bad):
            state = _STATE_WORD[bad[0].status]
            listing = f"{len(bad)} of {total} {plural(noun, total)} {state}: {listing}"
    text = f"{lead}{separator}{listing}" if lead and listing else lead or listing
    return one_line(text, SUMMARY_CAP)


def worst_first(components: Sequence[Component]) -> list[Component]:
    """The components, most severe first; equal ones keep their order."""
    return sorted(components, key=lambda component: -component.status.severity)


def named(components: Sequence[Component]) -> str:
    """``"db (Connection refused), cache (warning), +3 more"``: the first few components with
    their reasons; one whose status differs from the first's says its status."""
    head = components[0].status
    shown: list[str] = []
    for component in components[:SUMMARY_NAMES]:
        reason = short_reason(component.output)
        if component.status is not head:
            state = component.status.name.lower()
            reason = f"{state}: {reason}" if reason else state
        name = one_line(component.name, SUMMARY_NAME_CAP)
        shown.append(f"{name} ({reason})" if reason else name)
    more = len(components) - len(shown)
    return ", ".join(shown) + (f", +{more} more" if more else "")


def short_reason(text: str, limit: int = SUMMARY_REASON_CAP) -> str:
    """``text`` in at most ``limit`` characters, keeping its end: error chains put the cause
    last (``dial tcp [::1]:80: connect: connection refused``, ``...; nested exception is
    java.net.ConnectException: Connection refused``), so leading ``": "`` segments go first."""
    flat = one_line(text, OUTPUT_CAP)
    if len(flat) <= limit:
        return flat
    tail = flat
    while len(tail) > limit - 4 and ": " in tail:
        tail = tail.split(": ", 1)[1]
    if len(tail) <= limit - 4:
        return "... " + tail
    return one_line(flat, limit)


def capped_verdict(
    status: Status,
    summary: str,
    fmt: str,
    components: Sequence[Component],
    *,
    body_decides: bool = True,
) -> Verdict:
    """A verdict keeping at most ``MAX_COMPONENTS`` components (the most severe ones, in their
    original order) and counting the others."""
    kept = kept_components(components)
    return Verdict(
        status,
        one_line(summary, SUMMARY_CAP),
        fmt,
        kept,
        body_decides=body_decides,
        omitted=len(components) - len(kept),
    )


def kept_components(components: Sequence[Component]) -> tuple[Component, ...]:
    """The ``MAX_COMPONENTS`` most severe components, in their original order."""
    if len(components) <= MAX_COMPONENTS:
        return tuple(components)
    by_severity = sorted(
        range(len(components)), key=lambda index: (-components[index].status.severity, index)
    )
    return tuple(components[index] for index in sorted(by_severity[:MAX_COMPONENTS]))


def unparsed(fmt: str, status: Status, reason: str, said: str = "") -> Verdict:
    """A verdict on a body that is not a health document: the code decides with it."""
    return Verdict(
        status, one_line(reason, SUMMARY_CAP), fmt, body_decides=False, said=one_line(said, 200)
    )


def with_code(verdict: Verdict, status_code: int, options: Options) -> Verdict:
    """``verdict``, made CRITICAL by an HTTP code the user does not expect, unless the body
    decided (then the code is what the product sends with that status)."""
    if verdict.body_decides or options.expects(status_code):
        return verdict
    if verdict.said:
        # nginx's error page says "502 Bad Gateway": the code is said once.
        said = verdict.said.removeprefix(f"{status_code} ").lstrip() or verdict.said
        summary = f"HTTP {status_code}: {said}"
    else:
        summary = f"HTTP {status_code}, expected {options.expect_text}"
    if verdict.status is not Status.OK and verdict.summary:
        summary += f"; {verdict.summary}"
    return dataclasses.replace(
        verdict, status=Status.CRITICAL, summary=one_line(summary, SUMMARY_CAP)
    )
