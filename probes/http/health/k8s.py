"""Kubernetes verbose text (``[+]name ok`` / ``[-]name failed: reason``, last line
``readyz check passed|failed``) or plain ``ok``; sent with 200, or 500 on failure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from exporter.status import Status
from probes.http.health.common import (
    NAME_CAP,
    Component,
    Verdict,
    capped_verdict,
    first_line,
    is_success,
    one_line,
    summary_line,
    unparsed,
)

NAME = "k8s"
PASSED = re.compile(r"\[\+\](?P<name>\S+) (?:ok|excluded: ok)")
FAILED = re.compile(r"\[-\](?P<name>\S+) failed(?::\s*(?P<reason>.*))?")
ENDING = re.compile(r"\S+ check (?:passed|failed)")


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
        if passed := PASSED.fullmatch(line):
            components.append(Component(one_line(passed["name"], NAME_CAP), Status.OK))
        elif failed := FAILED.fullmatch(line):
            reason = one_line(failed["reason"] or "") or "failed"
            components.append(
                Component(one_line(failed["name"], NAME_CAP), Status.CRITICAL, reason)
            )
        elif ENDING.fullmatch(line):
            ending = one_line(line, 80)
        else:
            other += 1
    return K8sLines(tuple(components), ending, other)


def is_plain_ok(text: str) -> bool:
    return text.strip().lower() == "ok"


def looks_like_text(text: str) -> bool:
    return is_plain_ok(text) or k8s_lines(text).recognised


def verdict(status_code: int, text: str) -> Verdict:
    """Grade a Kubernetes-style answer: verbose check lines, or a plain ``ok``."""
    lines = k8s_lines(text)
    if not lines.components and not lines.ending:
        return unparsed_verdict(status_code, text)
    failing = any(component.status is Status.CRITICAL for component in lines.components)
    if failing:
        # "1 of 24 checks failed: etcd (...)" says it; the ending line would say it again.
        return capped_verdict(
            Status.CRITICAL, summary_line("", lines.components, "check"), NAME, lines.components
        )
    lead = lines.ending or "checks passed"
    status = Status.CRITICAL if lead.endswith("failed") else Status.OK
    if not is_success(status_code):
        status, lead = Status.CRITICAL, f"{lead} but HTTP {status_code}"
    return capped_verdict(
        status, summary_line(lead, lines.components, "check"), NAME, lines.components
    )


def unparsed_verdict(status_code: int, text: str) -> Verdict:
    """A Kubernetes-format answer without check lines: ``ok``, an error page, or nonsense."""
    if is_plain_ok(text):
        if is_success(status_code):
            return Verdict(Status.OK, "ok", NAME, body_decides=True)
        return Verdict(Status.CRITICAL, f"ok but HTTP {status_code}", NAME, body_decides=True)
    line = first_line(text)
    return unparsed(NAME, Status.UNKNOWN, f"not a Kubernetes health answer: {line!r}")
