"""The body must match a regular expression (plain ``iamalive`` pages)."""

from __future__ import annotations

from exporter.status import Status
from exporter.user_regex import UserRegexError, compile_user_regex
from probes.http.health.common import Verdict, one_line, unparsed

NAME = "regex"


def regex_verdict(text: str, regex: str | None) -> Verdict:
    """OK when ``regex`` matches somewhere in the body, CRITICAL when it does not."""
    if not regex:
        return unparsed(NAME, Status.UNKNOWN, "the regex format needs a regex")
    shown = one_line(regex, 80)
    try:
        pattern = compile_user_regex(regex)  # RE2: linear time whatever the pattern
    except UserRegexError as exc:
        return unparsed(
            NAME, Status.UNKNOWN, f"invalid regex /{shown}/: {one_line(exc.reason, 80)}"
        )
    if pattern.search(text) is not None:
        return unparsed(NAME, Status.OK, f"body matches /{shown}/")
    return unparsed(NAME, Status.CRITICAL, f"body does not match /{shown}/")
