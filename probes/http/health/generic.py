"""The generic reader: a JSON body no adapter claims, read for what it says about health.

Evidence, in the order it is weighed:

- the document's own state: the first of ``vocabulary.STATUS_KEYS`` at the top level that holds
  a word or a boolean (``"status": "Partially Available"``, ``"healthy": false``,
  ``"health": "false"``); a word in no list makes the verdict UNKNOWN, never OK;
- flags that are set at the top level (``"sealed": true``, ``"maintenance": true``);
- components one or two levels down: an object with a state of its own
  (``{"scheduler": {"status": "unhealthy"}}``, Harbor's ``components`` list), a value that is a
  state word (Grafana's ``"database": "failing"``), every entry of a ``failures`` or ``errors``
  map (its text is the reason).

The document's own state, when known and not healthy, is the grade (the product weighed its
parts itself); otherwise the worst of it, the flags and the components. Reasons are quoted
from ``vocabulary.REASON_KEYS``. A body with none of this evidence is no health document: the
code decides, and what the body says (its reason fields, else its first few values) is kept
to be quoted when the code is not the one expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from exporter.status import Status, worst
from probes.http.health import status_code, vocabulary
from probes.http.health.common import (
    NAME_CAP,
    SUMMARY_REASON_CAP,
    Component,
    Options,
    Verdict,
    capped_verdict,
    is_success,
    one_line,
    summary_line,
    text_of,
    unparsed,
)

NAME = "generic"
#: Levels below the top searched for components (a container such as ``checks`` is a level).
MAX_DEPTH = 2
#: Keys whose entries are failures by being there (hellofresh/health-go's ``failures``).
FAILURE_CONTAINERS = frozenset({"failures", "errors"})
#: Keys whose entries are components, named without the container's own name.
CONTAINERS = frozenset(
    {"components", "checks", "details", "services", "dependencies", "results", "entries",
     "indicators", "subsystems", "probes", "data"}
) | FAILURE_CONTAINERS  # fmt: skip
#: Keys that name an entry of a list of components.
NAME_KEYS = ("name", "id", "component", "service", "check", "code")
_OWN_KEYS = frozenset(vocabulary.STATUS_KEYS) | frozenset(vocabulary.FAILURE_FLAGS)
_FLAG_KEYS = frozenset(vocabulary.FAILURE_FLAGS)
_REASON_KEYS = frozenset(vocabulary.REASON_KEYS)
_STATE_KEYS = frozenset(vocabulary.STATUS_KEYS)


def verdict(document: object, code: int, options: Options) -> Verdict:
    """Grade a JSON document by what it says; by the code when it says nothing of health."""
    if isinstance(document, dict):
        return object_verdict(document, code, options)
    if isinstance(document, list):
        found = list(list_components("", document, options, 1))
        if found:
            return graded(None, "", [], found, code)
    return silent(document, code)


def object_verdict(document: Mapping[str, Any], code: int, options: Options) -> Verdict:
    raw, top = own_state(document, options)
    if raw is not None and top is None:
        note = f"unknown status {one_line(text_of(raw), 40)!r} (grade it with status_map)"
        return unparsed(NAME, Status.UNKNOWN, note, said=reason_of(document))
    flags = [(vocabulary.FAILURE_FLAGS[key], key) for key in flag_keys(document)]
    found = list(components(document, options, 1))
    if top is None and not flags and all(c.status is Status.UNKNOWN for c in found):
        if found:  # states nobody placed: no certainty either way
            note = summary_line("", found, "component") + " (grade them with status_map)"
            return unparsed(NAME, Status.UNKNOWN, note, said=reason_of(document))
        return silent(document, code)
    lead = lead_text(document, raw, top)
    reason = reason_of(document) if raw is None and flags else ""
    if reason:  # {"maintenance": true, "message": "upgrading"}: the flags say it, with why
        lead = f"{', '.join(key for _, key in flags)} ({reason})"
        return graded(worst(flag for flag, _ in flags), lead, [], found, code)
    return graded(top, lead, flags, found, code)


def graded(
    top: Status | None,
    lead: str,
    flags: Sequence[tuple[Status, str]],
    found: Sequence[Component],
    code: int,
) -> Verdict:
    """The verdict from the evidence; a healthy reading sent with an error code is CRITICAL."""
    status = top or Status.OK
    status = worst([status, *(flag for flag, _ in flags)])
    if top is None or top is Status.OK:
        status = worst([status, *(c.status for c in found if c.status is not Status.UNKNOWN)])
    parts = [lead] if lead else []
    parts += [key for _, key in flags]
    head = ", ".join(parts)
    if status is Status.OK and not is_success(code):
        summary = summary_line(f"{head or 'healthy'} but HTTP {code}", found, "component")
        return capped_verdict(Status.CRITICAL, summary, NAME, found)
    separator = " but " if top is not None and status.worse_than(top) else ": "
    return capped_verdict(status, summary_line(head, found, "component", separator), NAME, found)


def own_state(document: Mapping[str, Any], options: Options) -> tuple[object, Status | None]:
    """The first state field at the top that holds a word or a boolean, and its grade (None
    when it is a word in no list); ``(None, None)`` without one."""
    if not _STATE_KEYS & document.keys():
        return None, None
    for key in vocabulary.STATUS_KEYS:
        raw = document.get(key)
        if isinstance(raw, str | bool) and raw != "" and not vocabulary.is_neutral(raw):
            return raw, vocabulary.word_status(raw, options.status_map)
    return None, None


def lead_text(document: Mapping[str, Any], raw: object, top: Status | None) -> str:
    """``"Partially Available"``, ``"health false (RAFT NO LEADER)"``: the state as the body
    says it, with the body's reason when it is not healthy."""
    if raw is None:
        return ""
    key = next(k for k in vocabulary.STATUS_KEYS if document.get(k) is raw)
    word = one_line(text_of(raw), 40)
    lead = word if isinstance(raw, str) and key in ("status", "state") else f"{key} {word}"
    reason = reason_of(document) if top is not Status.OK else ""
    return f"{lead} ({reason})" if reason else lead


def components(node: Mapping[str, Any], options: Options, depth: int) -> Iterator[Component]:
    """The parts of ``node`` with a state, at most ``MAX_DEPTH`` levels below the top."""
    for key, value in node.items():
        name = one_line(str(key), NAME_CAP)
        nested = isinstance(value, dict | list)
        if (key in _OWN_KEYS and not nested) or (key in _REASON_KEYS and key not in CONTAINERS):
            continue
        if key in FAILURE_CONTAINERS and isinstance(value, dict | list):
            yield from failure_entries(value)
        elif key in CONTAINERS and isinstance(value, dict):
            if depth < MAX_DEPTH:
                yield from components(value, options, depth + 1)
            else:
                yield from leaves(value, options)
        elif isinstance(value, list):
            prefix = "" if key in CONTAINERS else name
            yield from list_components(prefix, value, options, depth)
        elif isinstance(value, dict):
            part = component(name, value, options)
            if part is not None:
                yield part
            elif depth < MAX_DEPTH:
                yield from (
                    Component(f"{name}.{c.name}", c.status, c.output)
                    for c in components(value, options, depth + 1)
                )
        else:
            status = word_only(value, options)
            if status is not None:
                yield Component(name, status, "" if status is Status.OK else text_of(value))


def leaves(node: Mapping[str, Any], options: Options) -> Iterator[Component]:
    """The entries of a container at the last level searched: objects with a state, words."""
    for key, value in node.items():
        name = one_line(str(key), NAME_CAP)
        if isinstance(value, dict):
            part = component(name, value, options)
            if part is not None:
                yield part
        else:
            status = word_only(value, options)
            if status is not None:
                yield Component(name, status, "" if status is Status.OK else text_of(value))


def list_components(
    prefix: str, items: Sequence[object], options: Options, depth: int
) -> Iterator[Component]:
    """The objects of a list that have a state, named by their ``name`` (or ``id``...)."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        label = next((item[k] for k in NAME_KEYS if isinstance(item.get(k), str)), str(index))
        name = one_line(f"{prefix}.{label}" if prefix else str(label), NAME_CAP)
        part = component(name, item, options)
        if part is not None:
            yield part


def component(name: str, node: Mapping[str, Any], options: Options) -> Component | None:
    """A part with a state of its own (a word, a boolean, a flag set), or None."""
    raw, status = own_state(node, options)
    flags = set_flags(node)
    if raw is None and not flags:
        return None
    if raw is not None and status is None:
        return Component(name, Status.UNKNOWN, f"unknown status {one_line(text_of(raw), 40)!r}")
    graded_status = worst([status or Status.OK, *flags]) if flags else status or Status.OK
    reason = reason_of(node) if graded_status is not Status.OK else ""
    if not reason and graded_status is not Status.OK and raw is not None:
        # Kong's {"database": {"reachable": false}}: the field says what a bare false cannot.
        key = next(k for k in vocabulary.STATUS_KEYS if node.get(k) is raw)
        reason = f"{key} {text_of(raw)}" if isinstance(raw, bool) else text_of(raw)
    return Component(name, graded_status, reason)


def flag_keys(node: Mapping[str, Any]) -> list[str]:
    """The failure flags set in ``node``, in the vocabulary's order (a set intersection
    first: most parts have none)."""
    present = _FLAG_KEYS & node.keys()
    return [key for key in vocabulary.FAILURE_FLAGS if key in present and
            vocabulary.is_true(node[key])]  # fmt: skip


def set_flags(node: Mapping[str, Any]) -> list[Status]:
    return [vocabulary.FAILURE_FLAGS[key] for key in flag_keys(node)]


def failure_entries(node: Mapping[str, Any] | list[Any]) -> Iterator[Component]:
    """Every entry of a ``failures`` (or ``errors``) map or list failed; its text, or its reason
    fields, say why."""
    entries = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in entries:
        label = key
        if isinstance(value, dict):
            label = next((value[k] for k in NAME_KEYS if isinstance(value.get(k), str)), key)
        reason = reason_of(value) if isinstance(value, dict) else text_of(value)
        yield Component(one_line(str(label), NAME_CAP), Status.CRITICAL, reason)


def word_only(value: object, options: Options) -> Status | None:
    """A bare value that is a state word (not a boolean: ``"tls": false`` is a setting)."""
    if isinstance(value, str):
        return vocabulary.word_status(value, options.status_map)
    return None


def reason_of(node: object, depth: int = 0) -> str:
    """The first reason field of ``node`` (``reason``, ``message``, ``error`` as text or as
    ``{message}``, ...); inside a list, its first entry's."""
    if isinstance(node, list) and node and depth < 2:
        return reason_of(node[0], depth + 1) if isinstance(node[0], dict) else text_of(node[0])
    if not isinstance(node, dict):
        return ""
    if not _REASON_KEYS & node.keys():
        return ""
    for key in vocabulary.REASON_KEYS:
        value = node.get(key)
        if value is None:
            continue
        if isinstance(value, str) and value.strip():
            return one_line(value, 200)
        if isinstance(value, dict | list) and value and depth < 2:
            found = reason_of(value, depth + 1)
            if found:
                return found
    return ""


#: A plain-text body this short that is a state word is read as that state.
WORD_BODY_CAP = 40


def word_verdict(text: str, code: int, options: Options) -> Verdict | None:
    """A plain-text body that is only a state word (``DOWN``, ``Service Unavailable``,
    ``healthy``), graded by it; None for any other text (markup included)."""
    stripped = text.strip()
    if not stripped or len(stripped) > WORD_BODY_CAP or "<" in stripped:
        return None
    status = vocabulary.word_status(stripped, options.status_map)
    if status is None:
        return None
    said = one_line(stripped, WORD_BODY_CAP)
    # The word alone would hide the code an operator greps for ("503"): both are said.
    return graded(status, said if is_success(code) else f"HTTP {code}: {said}", [], [], code)


def silent(document: object, code: int) -> Verdict:
    """No health evidence: the code decides; what the body says is kept to be quoted."""
    return unparsed(status_code.NAME, Status.OK, f"HTTP {code}", said=quote(document))


def quote(document: object) -> str:
    """What a body without health evidence says: its reason fields, else its first values
    (``storagedriver_s3: s3aws: Path not found: /``)."""
    reason = reason_of(document)
    if reason or not isinstance(document, dict):
        return reason
    values = [f"{key}: {text_of(value)}" for key, value in list(document.items())[:3]
              if isinstance(value, str | int | float | bool)]  # fmt: skip
    return one_line("; ".join(values), SUMMARY_REASON_CAP * 2)
