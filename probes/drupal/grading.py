"""Grading a status report: any error is CRITICAL, any warning WARNING, else OK.

Operators tune it per site: ``ignore`` leaves requirements out of the grade, and
``severity_overrides`` changes a requirement's severity, either always (``update_core: ok``) or
only from some severities (``update_core: {warning: ok}``: pending updates are fine on a site
that upgrades on a schedule, a security update still is an error). Requirements are matched by
id, or by title (any case) for Drush 10, whose rows carry no id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.status import Status
from probes.drupal.drush_requirements import (
    ERROR,
    SEVERITY_NAMES,
    SID_OF_NAME,
    WARNING,
    Requirement,
    SeverityName,
)

#: Problems listed in the details at most (the count is always there).
MAX_PROBLEMS = 50
#: Titles named in the one-line summary at most.
SUMMARY_TITLES = 3
#: A severity, or a mapping from the reported severity to the graded one.
SeverityOverride = SeverityName | dict[SeverityName, SeverityName]


@dataclass(frozen=True, slots=True)
class Graded:
    requirement: Requirement
    #: The severity the grade uses, after overrides.
    sid: int


@dataclass(frozen=True, slots=True)
class Grade:
    status: Status
    errors: tuple[Graded, ...]
    warnings: tuple[Graded, ...]
    #: Reported as warning or error but graded lower by an override.
    downgraded: tuple[Graded, ...]
    ignored: tuple[str, ...]
    #: Every requirement not ignored, with the severity it is graded with.
    graded: tuple[Graded, ...] = ()


class _Matcher:
    """Finds a config entry by requirement id, or by title in any case."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = {key: key for key in keys}
        self.folded = {key.casefold(): key for key in keys}

    def find(self, requirement: Requirement) -> str | None:
        return self.keys.get(requirement.id) or self.folded.get(requirement.title.casefold())


def graded_sid(requirement: Requirement, override: SeverityOverride | None) -> int:
    if override is None:
        return requirement.sid
    if isinstance(override, str):
        return SID_OF_NAME[override]
    return SID_OF_NAME[override.get(requirement.severity, requirement.severity)]


def grade(
    rows: Sequence[Requirement],
    ignore: Sequence[str],
    overrides: Mapping[str, SeverityOverride],
) -> Grade:
    ignored_by, overridden_by = _Matcher(ignore), _Matcher(list(overrides))
    errors, warnings, downgraded, ignored, every = [], [], [], [], []
    for row in rows:
        if ignored_by.find(row) is not None:
            ignored.append(row.id)
            continue
        key = overridden_by.find(row)
        graded = Graded(row, graded_sid(row, overrides[key] if key is not None else None))
        every.append(graded)
        if graded.sid == ERROR:
            errors.append(graded)
        elif graded.sid == WARNING:
            warnings.append(graded)
        elif row.sid in (WARNING, ERROR):
            downgraded.append(graded)
    status = Status.CRITICAL if errors else Status.WARNING if warnings else Status.OK
    return Grade(
        status, tuple(errors), tuple(warnings), tuple(downgraded), tuple(ignored), tuple(every)
    )


def problem_details(verdict: Grade, scrub: Callable[[str], str]) -> dict[str, Any]:
    """Every non-OK requirement with its title, value and description, worst first (capped)."""
    problems = [*verdict.errors, *verdict.warnings, *verdict.downgraded]
    details: dict[str, Any] = {"problems": [_problem(p, scrub) for p in problems[:MAX_PROBLEMS]]}
    if len(problems) > MAX_PROBLEMS:
        details["problems_cut"] = len(problems) - MAX_PROBLEMS
    if verdict.ignored:
        details["ignored"] = list(verdict.ignored)
    return details


def _problem(graded: Graded, scrub: Callable[[str], str]) -> dict[str, Any]:
    row = graded.requirement
    problem: dict[str, Any] = {
        "id": row.id,
        "severity": row.severity,
        "title": row.title,
        "value": scrub(row.value),
        "description": scrub(row.description),
    }
    if graded.sid != row.sid:
        problem["graded_as"] = SEVERITY_NAMES[graded.sid]
    if row.severity_note:
        problem["note"] = row.severity_note
    return problem


def summary_of(verdict: Grade, total: int) -> str:
    """``2 errors, 1 warning: Cron maintenance tasks (Last run 3 days ago); ...``."""
    counts = [
        _plural(len(verdict.errors), "error"),
        _plural(len(verdict.warnings), "warning"),
    ]
    named = [*verdict.errors, *verdict.warnings]
    if not named:
        extra = [f"{len(verdict.ignored)} ignored"] if verdict.ignored else []
        extra += [f"{len(verdict.downgraded)} overridden"] if verdict.downgraded else []
        tail = f" ({', '.join(extra)})" if extra else ""
        if total == 0:
            return f"drush reported no requirements{tail}"
        return f"{_plural(total, 'requirement')}, no warnings or errors{tail}"
    titles = "; ".join(_titled(graded.requirement) for graded in named[:SUMMARY_TITLES])
    more = f"; {len(named) - SUMMARY_TITLES} more" if len(named) > SUMMARY_TITLES else ""
    return f"{', '.join(c for c in counts if c)}: {titles}{more}"


def _titled(row: Requirement) -> str:
    value = row.value if len(row.value) <= 60 else row.value[:59] + "…"
    return f"{row.title} ({value})" if value else row.title


def _plural(count: int, noun: str) -> str:
    if not count:
        return ""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
