"""Grading of HTTP healthz response bodies, for the ``http`` probe.

Pure functions: the probe fetches, ``grade_body`` grades what came back. Formats:

- ``health+json``: IETF draft-inadarei-api-health-check (``status`` pass/warn/fail, ``checks``
  keyed ``"component:measurement"``; older documents say ``details``).
- ``spring``: Spring Boot actuator (``status`` UP/OUT_OF_SERVICE/DOWN/UNKNOWN, nested
  ``components``; older documents nest ``details``).
- ``k8s``: Kubernetes verbose text (``[+]name ok`` / ``[-]name failed: reason``) or plain ``ok``.
- ``status-code``: 2xx-3xx is OK, anything else CRITICAL.
- ``regex``: the body must match a regular expression.
- ``auto``: one of the above, decided from the content type and the body.

Bad input (invalid JSON, odd shapes, undecodable bytes, a body cut at the size cap) is a graded
verdict, usually UNKNOWN with a reason, never an exception. Text taken from a body is kept as
text (markup is not interpreted), flattened to one line and capped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.status import Status, worst

__all__ = ["FORMATS", "MAX_COMPONENTS", "Component", "Verdict", "grade_body"]

FORMATS = ("auto", "health+json", "spring", "k8s", "status-code", "regex")

#: Components kept in a verdict; the most severe are kept first, the rest counted.
MAX_COMPONENTS = 100
#: Characters kept of a component's output, of the summary, of a name.
OUTPUT_CAP = 300
SUMMARY_CAP = 300
NAME_CAP = 100
#: Component names listed in a summary, and characters kept of each there.
SUMMARY_NAMES = 5
SUMMARY_NAME_CAP = 40
#: Spring components nested deeper than this are graded as one component.
MAX_DEPTH = 16

_HEALTH_JSON_STATUS: Mapping[str, Status] = {
    "pass": Status.OK,
    "ok": Status.OK,
    "up": Status.OK,
    "warn": Status.WARNING,
    "fail": Status.CRITICAL,
    "error": Status.CRITICAL,
    "down": Status.CRITICAL,
}
_SPRING_STATUS: Mapping[str, Status] = {
    "up": Status.OK,
    "out_of_service": Status.WARNING,
    "down": Status.CRITICAL,
    "unknown": Status.UNKNOWN,
}
#: Document statuses that promise a 2xx-3xx answer; any other code makes the verdict CRITICAL.
_HEALTH_JSON_NEEDS_SUCCESS = frozenset({Status.OK, Status.WARNING})
_SPRING_NEEDS_SUCCESS = frozenset({Status.OK})

_K8S_PASSED = re.compile(r"\[\+\](?P<name>\S+) (?:ok|excluded: ok)")
_K8S_FAILED = re.compile(r"\[-\](?P<name>\S+) failed(?::\s*(?P<reason>.*))?")
_K8S_ENDING = re.compile(r"\S+ check (?:passed|failed)")
_UNPRINTABLE_RUN = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


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
    JSON that is not an object, a JSON body cut at the size cap).
    """

    status: Status
    summary: str
    format: str
    components: tuple[Component, ...] = ()


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


# --- shared text helpers ------------------------------------------------------------------


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


def media_type(content_type: str) -> str:
    """``application/json`` from ``Application/JSON; charset=utf-8``."""
    return content_type.partition(";")[0].strip().lower()


def is_json_media(media: str) -> bool:
    return media.endswith(("/json", "+json"))


def is_success(status_code: int) -> bool:
    """2xx-3xx: the answer a healthy endpoint gives."""
    return 200 <= status_code < 400


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, one-lined and capped."""
    for line in text.splitlines():
        if line.strip():
            return one_line(line, 120)
    return ""


def plural(noun: str, count: int) -> str:
    return noun if count == 1 else noun + "s"


# --- JSON -----------------------------------------------------------------------------------


def json_object(text: str) -> dict[str, Any] | str:
    """The JSON object in ``text``, or why there is none (``"invalid JSON: ..."``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        return f"invalid JSON: {one_line(str(exc), 80)}"
    if not isinstance(value, dict):
        return f"JSON {json_type(value)}, not an object"
    return value


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
    return "number"


def graded_word(raw: object, table: Mapping[str, Status], *, missing: Status) -> tuple[Status, str]:
    """A ``status`` field graded by ``table`` (any case), and a note when it was not understood
    (``"no status"``, ``"unknown status 'degraded'"``); the note is empty otherwise."""
    if raw is None:
        return missing, "" if missing is not Status.UNKNOWN else "no status"
    if isinstance(raw, str) and raw.lower() in table:
        return table[raw.lower()], ""
    return Status.UNKNOWN, f"unknown status {one_line(text_of(raw), 40)!r}"


def document_verdict(
    fmt: str,
    word: str,
    top: Status,
    components: Sequence[Component],
    status_code: int,
    *,
    noun: str,
    needs_success: Collection[Status],
    output: str = "",
) -> Verdict:
    """The verdict on a JSON health document: its own status (``word``/``top``), made worse by
    an HTTP code that contradicts it or by a component worse than it."""
    status = top
    lead = word
    if top in needs_success and not is_success(status_code):
        status = Status.CRITICAL
        lead = f"status {word} but HTTP {status_code}"
    problems = problems_text(components, noun)
    worst_part = worst(component.status for component in components)
    if worst_part.worse_than(status):
        status = worst_part
        summary = f"{lead} but {problems}"
    elif problems:
        summary = f"{lead}: {problems}"
    elif components:
        summary = f"{lead}: {len(components)} {plural(noun, len(components))} ok"
    else:
        summary = lead
    if output:
        summary += f"; {one_line(output, 80)}"
    return capped_verdict(status, summary, fmt, components, noun)


def problems_text(components: Sequence[Component], noun: str) -> str:
    """``"2 of 5 checks failing (etcd, db); 1 warning (cache)"``, or ``""`` when all are OK."""
    groups = (
        ("failing", Status.CRITICAL),
        ("unknown", Status.UNKNOWN),
        ("warning", Status.WARNING),
    )
    parts: list[str] = []
    for label, status in groups:
        names = [component.name for component in components if component.status is status]
        if not names:
            continue
        count = str(len(names))
        if not parts:
            count += f" of {len(components)} {plural(noun, len(components))}"
        parts.append(f"{count} {label} ({listed(names)})")
    return "; ".join(parts)


def listed(names: Sequence[str]) -> str:
    """The first few names, shortened, and how many more there are."""
    shown = [one_line(name, SUMMARY_NAME_CAP) for name in names[:SUMMARY_NAMES]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f", +{more} more" if more else "")


def capped_verdict(
    status: Status, summary: str, fmt: str, components: Sequence[Component], noun: str
) -> Verdict:
    """A verdict keeping at most ``MAX_COMPONENTS`` components (the most severe ones, in their
    original order), saying in the summary how many were dropped."""
    kept = kept_components(components)
    dropped = len(components) - len(kept)
    if dropped:
        summary = (
            f"{one_line(summary, SUMMARY_CAP - 40)}; "
            f"{dropped} more {plural(noun, dropped)} not kept (cap {MAX_COMPONENTS})"
        )
    return Verdict(status, one_line(summary, SUMMARY_CAP), fmt, kept)


def kept_components(components: Sequence[Component]) -> tuple[Component, ...]:
    """The ``MAX_COMPONENTS`` most severe components, in their original order."""
    if len(components) <= MAX_COMPONENTS:
        return tuple(components)
    by_severity = sorted(
        range(len(components)), key=lambda index: (-components[index].status.severity, index)
    )
    return tuple(components[index] for index in sorted(by_severity[:MAX_COMPONENTS]))


# --- health+json ----------------------------------------------------------------------------


def health_json_verdict(document: Mapping[str, Any], status_code: int) -> Verdict:
    """Grade an IETF health+json document."""
    raw = document.get("status")
    top, note = graded_word(raw, _HEALTH_JSON_STATUS, missing=Status.UNKNOWN)
    word = note or one_line(text_of(raw), 40).lower()
    output = text_of(document.get("output")) if top is not Status.OK else ""
    return document_verdict(
        "health+json",
        word,
        top,
        health_json_components(document),
        status_code,
        noun="check",
        needs_success=_HEALTH_JSON_NEEDS_SUCCESS,
        output=output,
    )


def health_json_components(document: Mapping[str, Any]) -> list[Component]:
    """One component per check object under ``checks`` (or the older ``details``)."""
    checks = document.get("checks")
    if not isinstance(checks, Mapping):
        checks = document.get("details")
    if not isinstance(checks, Mapping):
        return []
    components: list[Component] = []
    for key, entry in checks.items():
        objects = entry if isinstance(entry, list) else [entry]
        name = one_line(str(key), NAME_CAP)
        for index, check in enumerate(objects):
            indexed = f"{name}[{index}]" if len(objects) > 1 else name
            components.append(health_json_component(indexed, check))
    return components


def health_json_component(name: str, check: object) -> Component:
    """A check object graded by its own ``status`` (a check without one grades OK)."""
    if not isinstance(check, Mapping):
        return Component(name, Status.UNKNOWN, f"not a check object but a {json_type(check)}")
    status, note = graded_word(check.get("status"), _HEALTH_JSON_STATUS, missing=Status.OK)
    parts = [note, text_of(check.get("output")), observed_text(check)]
    return Component(name, status, one_line("; ".join(part for part in parts if part.strip())))


def observed_text(check: Mapping[str, Any]) -> str:
    """``"observed 250 ms"`` from ``observedValue``/``observedUnit``, ``""`` without a value."""
    value = check.get("observedValue")
    if value is None:
        return ""
    unit = one_line(text_of(check.get("observedUnit")), 20)
    return f"observed {one_line(text_of(value), 60)} {unit}".rstrip()


# --- spring ---------------------------------------------------------------------------------


def spring_verdict(document: Mapping[str, Any], status_code: int) -> Verdict:
    """Grade a Spring Boot actuator health document."""
    raw = document.get("status")
    top, note = graded_word(raw, _SPRING_STATUS, missing=Status.UNKNOWN)
    word = note or one_line(text_of(raw), 40).upper()
    return document_verdict(
        "spring",
        word,
        top,
        list(spring_components(document)),
        status_code,
        noun="component",
        needs_success=_SPRING_NEEDS_SUCCESS,
    )


def spring_components(
    node: Mapping[str, Any], prefix: str = "", depth: int = 0
) -> Iterator[Component]:
    """The leaves under ``node``, named by their dotted path (``db.primary``)."""
    for key, child in spring_children(node):
        name = one_line(f"{prefix}.{key}" if prefix else key, NAME_CAP)
        if not isinstance(child, Mapping):
            yield Component(name, Status.UNKNOWN, f"not a health object but a {json_type(child)}")
        elif not spring_children(child):
            yield spring_leaf(name, child)
        elif depth >= MAX_DEPTH:
            status, note = graded_word(child.get("status"), _SPRING_STATUS, missing=Status.UNKNOWN)
            yield Component(name, status, note or f"nested deeper than {MAX_DEPTH} levels")
        else:
            yield from spring_components(child, name, depth + 1)


def spring_children(node: Mapping[str, Any]) -> list[tuple[str, object]]:
    """A node's sub-components: its ``components``, or (older documents) a ``details`` object
    whose every value is a health object; ``[]`` for a leaf."""
    components = node.get("components")
    if isinstance(components, Mapping):
        return [(str(key), value) for key, value in components.items()]
    details = node.get("details")
    if isinstance(details, Mapping) and details and all(map(is_spring_health, details.values())):
        return [(str(key), value) for key, value in details.items()]
    return []


def is_spring_health(value: object) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("status"), str)


def spring_leaf(name: str, node: Mapping[str, Any]) -> Component:
    """A leaf graded by its ``status``; output is ``details.error``, or for a leaf that is not
    UP its scalar details (``free=1024, threshold=10485760``)."""
    status, note = graded_word(node.get("status"), _SPRING_STATUS, missing=Status.UNKNOWN)
    details = node.get("details")
    details = details if isinstance(details, Mapping) else {}
    reason = text_of(details.get("error"))
    if not reason and status is not Status.OK:
        reason = scalar_details(details)
    return Component(name, status, one_line("; ".join(part for part in (note, reason) if part)))


def scalar_details(details: Mapping[str, Any]) -> str:
    """``"free=1024, threshold=10485760"``: the details that are single values."""
    return ", ".join(
        f"{key}={text_of(value)}"
        for key, value in details.items()
        if isinstance(value, str | int | float | bool)
    )


# --- kubernetes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class K8sLines:
    """What the lines of a Kubernetes verbose health answer say."""

    components: tuple[Component, ...]
    ending: str  # "healthz check failed", "" when there is no such line
    other: int  # non-blank lines that are neither checks nor the ending

    @property
    def recognised(self) -> bool:
        """Every non-blank line is a check or the ending, and there is at least one check."""
        return bool(self.components) and self.other == 0


def k8s_lines(text: str) -> K8sLines:
    components: list[Component] = []
    ending = ""
    other = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if passed := _K8S_PASSED.fullmatch(line):
            components.append(Component(one_line(passed["name"], NAME_CAP), Status.OK))
        elif failed := _K8S_FAILED.fullmatch(line):
            reason = one_line(failed["reason"] or "") or "failed"
            components.append(
                Component(one_line(failed["name"], NAME_CAP), Status.CRITICAL, reason)
            )
        elif _K8S_ENDING.fullmatch(line):
            ending = one_line(line, 80)
        else:
            other += 1
    return K8sLines(tuple(components), ending, other)


def is_plain_ok(text: str) -> bool:
    return text.strip().lower() == "ok"


def k8s_verdict(status_code: int, text: str) -> Verdict:
    """Grade a Kubernetes-style answer: verbose check lines, or a plain ``ok``."""
    lines = k8s_lines(text)
    if not lines.components and not lines.ending:
        return k8s_unparsed_verdict(status_code, text)
    failed = (
        any(component.status is Status.CRITICAL for component in lines.components)
        or lines.ending.endswith("failed")
        or not is_success(status_code)
    )
    lead = lines.ending or ("checks failed" if failed else "checks passed")
    problems = problems_text(lines.components, "check")
    count = len(lines.components)
    if problems:
        summary = f"{lead}: {problems}"
    elif count:
        summary = f"{lead}: {count} {plural('check', count)} ok"
    else:
        summary = lead
    if not is_success(status_code):
        summary += f"; HTTP {status_code}"
    status = Status.CRITICAL if failed else Status.OK
    return capped_verdict(status, summary, "k8s", lines.components, "check")


def k8s_unparsed_verdict(status_code: int, text: str) -> Verdict:
    """A Kubernetes-format answer without check lines: ``ok``, an error page, or nonsense."""
    if is_plain_ok(text):
        if is_success(status_code):
            return Verdict(Status.OK, "ok", "k8s")
        return Verdict(Status.CRITICAL, f"body ok but HTTP {status_code}", "k8s")
    line = first_line(text)
    if not is_success(status_code):
        return Verdict(
            Status.CRITICAL, f"HTTP {status_code}: {line}" if line else f"HTTP {status_code}", "k8s"
        )
    return Verdict(Status.UNKNOWN, f"not a Kubernetes health answer: {line!r}", "k8s")


# --- status code, regex ---------------------------------------------------------------------


def status_code_verdict(status_code: int) -> Verdict:
    status = Status.OK if is_success(status_code) else Status.CRITICAL
    return Verdict(status, f"HTTP {status_code}", "status-code")


def regex_verdict(text: str, regex: str | None) -> Verdict:
    """OK when ``regex`` matches somewhere in the body, CRITICAL when it does not."""
    if not regex:
        return Verdict(Status.UNKNOWN, "the regex format needs a regex", "regex")
    shown = one_line(regex, 80)
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        return Verdict(
            Status.UNKNOWN, f"invalid regex /{shown}/: {one_line(str(exc), 80)}", "regex"
        )
    if pattern.search(text):
        return Verdict(Status.OK, f"body matches /{shown}/", "regex")
    return Verdict(Status.CRITICAL, f"body does not match /{shown}/", "regex")


# --- auto, truncated ------------------------------------------------------------------------


def auto_verdict(status_code: int, content_type: str, text: str) -> Verdict:
    """Grade in the format the content type and body look like (see ``json_format``)."""
    media = media_type(content_type)
    if media == "application/health+json":
        return grade_json("health+json", status_code, text)
    if is_json_media(media) or text.lstrip().startswith("{"):
        document = json_object(text)
        if isinstance(document, str):
            if is_json_media(media):
                return Verdict(Status.UNKNOWN, document, "auto")
        elif (fmt := json_format(document)) == "spring":
            return spring_verdict(document, status_code)
        elif fmt == "health+json":
            return health_json_verdict(document, status_code)
    if is_plain_ok(text) or k8s_lines(text).recognised:
        return k8s_verdict(status_code, text)
    return status_code_verdict(status_code)


def grade_json(fmt: str, status_code: int, text: str) -> Verdict:
    """Grade ``text`` as the JSON format ``fmt`` (``spring`` or ``health+json``)."""
    document = json_object(text)
    if isinstance(document, str):
        return Verdict(Status.UNKNOWN, document, fmt)
    if fmt == "spring":
        return spring_verdict(document, status_code)
    return health_json_verdict(document, status_code)


def json_format(document: Mapping[str, Any]) -> str | None:
    """``"spring"``, ``"health+json"`` or ``None`` (neither) for a JSON object.

    ``checks`` means health+json and ``components`` Spring. Otherwise the status decides;
    ``up``/``down`` are both, so an older ``details`` of check lists means health+json, and
    anything else Spring.
    """
    if isinstance(document.get("checks"), Mapping):
        return "health+json"
    if isinstance(document.get("components"), Mapping):
        return "spring"
    raw = document.get("status")
    word = raw.lower() if isinstance(raw, str) else ""
    if word in ("up", "down"):
        details = document.get("details")
        if isinstance(details, Mapping) and any(isinstance(v, list) for v in details.values()):
            return "health+json"
        return "spring"
    if word in _SPRING_STATUS:
        return "spring"
    if word in _HEALTH_JSON_STATUS:
        return "health+json"
    return None


def truncated_verdict(fmt: str, status_code: int, content_type: str, text: str) -> Verdict:
    """A body cut at the size cap: UNKNOWN, unless the status code alone decides."""
    if fmt == "auto":
        fmt = format_of_prefix(content_type, text)
        if fmt == "status-code":
            return status_code_verdict(status_code)
    return Verdict(Status.UNKNOWN, "body larger than the cap", fmt)


def format_of_prefix(content_type: str, text: str) -> str:
    """The format ``auto`` would use, judged from the start of a body; ``"auto"`` for JSON,
    where only the whole document tells Spring from health+json."""
    media = media_type(content_type)
    if media == "application/health+json":
        return "health+json"
    if is_json_media(media) or text.lstrip().startswith("{"):
        return "auto"
    first = text.lstrip().partition("\n")[0].strip()
    if _K8S_PASSED.fullmatch(first) or _K8S_FAILED.fullmatch(first):
        return "k8s"
    return "status-code"
