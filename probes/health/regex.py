"""The body must match a regular expression (plain ``iamalive`` pages)."""

from __future__ import annotations

from exporter.status import Status
from exporter.user_regex import UserRegexError, compile_user_regex
from probes.health.common import Verdict, one_line


def regex_verdict(text: str, regex: str | None) -> Verdict:
    """OK when ``regex`` matches somewhere in the body, CRITICAL when it does not."""
    if not regex:
        return Verdict(Status.UNKNOWN, "the regex format needs a regex", "regex")
    shown = one_line(regex, 80)
    try:
        pattern = compile_user_regex(regex)  # RE2: linear time whatever the pattern
    except UserRegexError as exc:
        return Verdict(
            Status.UNKNOWN, f"invalid regex /{shown}/: {one_line(exc.reason, 80)}", "regex"
        )
    if pattern.search(text) is not None:
        return Verdict(Status.OK, f"body matches /{shown}/", "regex")
    return Verdict(Status.CRITICAL, f"body does not match /{shown}/", "regex")
