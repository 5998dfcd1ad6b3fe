"""Elasticsearch and OpenSearch ``_cluster/health``: ``status`` green/yellow/red (OK, WARNING,
CRITICAL) with ``cluster_name`` and shard counts; with ``level=indices``, an ``indices`` object
graded the same way. Sent with 200 whatever the colour (408 when a ``wait_for`` timed out)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.status import Status
from probes.http.health.common import (
    NAME_CAP,
    Component,
    Options,
    Verdict,
    capped_verdict,
    graded_word,
    is_success,
    one_line,
    summary_line,
    text_of,
    unparsed,
)

NAME = "elasticsearch"
STATUS_WORDS: Mapping[str, Status] = {
    "green": Status.OK,
    "yellow": Status.WARNING,
    "red": Status.CRITICAL,
}
#: Shard counts worth naming when they are not zero, and the words for them.
_SHARD_FACTS = (
    ("unassigned_primary_shards", "unassigned primary"),
    ("unassigned_shards", "unassigned"),
    ("initializing_shards", "initializing"),
    ("relocating_shards", "relocating"),
)


def looks_like(document: Mapping[str, Any]) -> bool:
    raw = document.get("status")
    return "cluster_name" in document and isinstance(raw, str) and raw.lower() in STATUS_WORDS


def verdict(document: Mapping[str, Any], status_code: int, options: Options) -> Verdict:
    raw = document.get("status")
    status, note = graded_word(raw, STATUS_WORDS, options, missing=Status.UNKNOWN)
    cluster = one_line(text_of(document.get("cluster_name")), 60)
    where = f" (cluster {cluster})" if cluster else ""
    found = indices(document, options)
    if note:
        return unparsed(NAME, Status.UNKNOWN, note + where)
    facts = shard_facts(document) if status is not Status.OK else []
    if document.get("timed_out") is True:
        facts.append("timed out waiting")
    lead = one_line(text_of(raw), 20).lower()
    if status is Status.OK and not is_success(status_code):
        status, lead = Status.CRITICAL, f"{lead} but HTTP {status_code}"
    if facts:
        lead += ": " + ", ".join(facts)
    return capped_verdict(status, summary_line(lead + where, found, "index"), NAME, found)


def shard_facts(document: Mapping[str, Any]) -> list[str]:
    """``["5 unassigned shards", "1 initializing shard"]``: the shard counts that are not 0
    (unassigned primaries, newer versions only, instead of counting them twice)."""
    facts: list[str] = []
    primaries = 0
    for key, words in _SHARD_FACTS:
        count = document.get(key)
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            continue
        if key == "unassigned_primary_shards":
            primaries = count
        elif key == "unassigned_shards" and primaries:
            count -= primaries
            words = "unassigned replica"
            if count <= 0:
                continue
        facts.append(f"{count} {words} {'shard' if count == 1 else 'shards'}")
    return facts


def indices(document: Mapping[str, Any], options: Options) -> list[Component]:
    """One component per index of a ``level=indices`` answer."""
    found = document.get("indices")
    if not isinstance(found, Mapping):
        return []
    components: list[Component] = []
    for name, index in found.items():
        raw = index.get("status") if isinstance(index, Mapping) else None
        status, note = graded_word(raw, STATUS_WORDS, options, missing=Status.UNKNOWN)
        reason = note
        if not note and status is not Status.OK and isinstance(index, Mapping):
            reason = ", ".join(shard_facts(index))
        components.append(Component(one_line(str(name), NAME_CAP), status, reason))
    return components
