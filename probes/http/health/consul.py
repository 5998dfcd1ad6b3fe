"""Consul health: the agent's ``/v1/agent/health/service/{id,name}/...`` (an object, or an
array of them, with ``AggregatedStatus`` and ``Checks``; ``?format=text`` is the bare word;
200 passing, 429 warning, 503 critical), and the catalog's ``/v1/health/node``, ``checks``,
``state`` (an array of checks) and ``service`` (an array of ``{Node, Service, Checks}``),
always sent with 200. Status words: passing, warning, critical (maintenance is critical)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exporter.status import Status, worst
from probes.http.health.common import (
    NAME_CAP,
    Component,
    Options,
    Verdict,
    document_verdict,
    graded_word,
    joined,
    one_line,
    text_of,
)

NAME = "consul"
STATUS_WORDS: Mapping[str, Status] = {
    "passing": Status.OK,
    "warning": Status.WARNING,
    "critical": Status.CRITICAL,
    "maintenance": Status.CRITICAL,
}
_WORD_OF = {Status.OK: "passing", Status.WARNING: "warning", Status.CRITICAL: "critical"}


def looks_like(document: object) -> bool:
    """An agent answer (``AggregatedStatus``), or a non-empty array of agent answers, checks
    (``CheckID`` and ``Status``) or service entries (``Checks`` and ``Service``)."""
    if isinstance(document, Mapping):
        return "AggregatedStatus" in document
    if not isinstance(document, list) or not document:
        return False
    return all(isinstance(item, Mapping) for item in document) and all(
        "AggregatedStatus" in item
        or ("CheckID" in item and "Status" in item)
        or (isinstance(item.get("Checks"), list) and "Service" in item)
        for item in document
    )


def looks_like_text(text: str) -> bool:
    return text.strip().lower() in ("passing", "warning", "critical")


def verdict(document: object, status_code: int, options: Options) -> Verdict:
    items: Sequence[Any] = document if isinstance(document, list) else [document]
    if all(isinstance(item, Mapping) and "AggregatedStatus" in item for item in items):
        found = [instance(item, options) for item in items]
        noun = "instance"
        raw: object = items[0]["AggregatedStatus"] if len(items) == 1 else word_of(found)
    else:
        checks = [
            check
            for item in items
            if isinstance(item, Mapping)
            for check in (item["Checks"] if isinstance(item.get("Checks"), list) else [item])
            if isinstance(check, Mapping)
        ]
        found = deduplicated([check_component(check, options, with_node=True) for check in checks])
        noun = "check"
        raw = word_of(found)
    return document_verdict(NAME, raw, STATUS_WORDS, found, status_code, options, noun=noun)


def word_of(components: Sequence[Component]) -> str:
    """The Consul word for the worst of ``components`` (passing when there are none)."""
    return _WORD_OF.get(worst(c.status for c in components), "critical")


def text_verdict(text: str, status_code: int, options: Options) -> Verdict:
    return document_verdict(
        NAME, text.strip(), STATUS_WORDS, [], status_code, options, noun="check"
    )


def instance(item: Mapping[str, Any], options: Options) -> Component:
    """A service instance graded by its ``AggregatedStatus``; its reason is its worst check's
    name and output."""
    service = item.get("Service")
    name = text_of(service.get("ID")) if isinstance(service, Mapping) else ""
    status, note = graded_word(item.get("AggregatedStatus"), STATUS_WORDS, options,
                               missing=Status.UNKNOWN)  # fmt: skip
    checks = item.get("Checks")
    reasons = [
        check_component(check, options, with_node=False)
        for check in (checks if isinstance(checks, list) else [])
        if isinstance(check, Mapping)
    ]
    bad = sorted(
        (c for c in reasons if c.status is not Status.OK), key=lambda c: -c.status.severity
    )
    reason = bad[0].output if bad else ""
    return Component(one_line(name or "service", NAME_CAP), status, joined(note, reason))


def check_component(check: Mapping[str, Any], options: Options, *, with_node: bool) -> Component:
    """A check graded by its ``Status``, named ``node/CheckID`` (CheckIDs are per node)."""
    check_id = text_of(check.get("CheckID")) or text_of(check.get("Name")) or "check"
    node = text_of(check.get("Node"))
    name = f"{node}/{check_id}" if with_node and node else check_id
    status, note = graded_word(check.get("Status"), STATUS_WORDS, options, missing=Status.UNKNOWN)
    output = text_of(check.get("Output")) if status is not Status.OK else ""
    return Component(one_line(name, NAME_CAP), status, joined(note, output))


def deduplicated(components: Sequence[Component]) -> list[Component]:
    """One component per name (a node's serfHealth appears once per service entry)."""
    seen: dict[str, Component] = {}
    for component in components:
        seen.setdefault(component.name, component)
    return list(seen.values())
