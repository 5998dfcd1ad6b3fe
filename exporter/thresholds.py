"""Thresholds: ``{warning: X, critical: Y}`` with plain limits or Nagios range strings.

A plain limit (``80``, ``2h``, ``10MiB``) alerts when the value is past it in the field's
direction: above for upper limits (``max_age``, ``used_percent``), below for lower limits
(``min_size``). A Nagios range (anything with ``:`` or ``@``) follows the plugin guidelines:
``10:`` alerts below 10, ``~:20`` above 20, ``10:20`` outside [10, 20], ``@10:20`` inside.
A single value instead of a mapping (``max_size: 10MiB``) is a critical limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from exporter.status import Status
from exporter.units import format_duration, format_size, parse_duration, parse_size


@dataclass(frozen=True, slots=True)
class Range:
    """Values inside [start, end] are fine, unless ``inside`` inverts that."""

    start: float
    end: float
    inside: bool = False
    text: str = ""

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text


def parse_range(text: str, parse_value: Callable[[object], float]) -> Range:
    """A Nagios range string; endpoints are parsed with ``parse_value`` (units allowed)."""
    body = text.strip()
    inside = body.startswith("@")
    if inside:
        body = body[1:]
    if ":" in body:
        low, high = body.split(":", 1)
    else:
        low, high = "0", body
    start = -math.inf if low.strip() == "~" else parse_value(low.strip() or "0")
    end = math.inf if high.strip() == "" else parse_value(high.strip())
    if start > end:
        raise ValueError(f"invalid range {text!r}: start is greater than end")
    return Range(start, end, inside, text.strip())


class Limits(BaseModel):
    """Warning and critical limits for one measured value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: Range | None = None
    critical: Range | None = None

    #: ``upper`` if a plain limit alerts above it, ``lower`` if below it.
    direction: ClassVar[str] = "upper"

    @staticmethod
    def parse_value(value: object) -> float:
        try:
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                return float(value)
        except ValueError:
            pass
        raise ValueError(f"expected a number or a Nagios range, got {value!r}")

    @staticmethod
    def format_value(value: float, /) -> str:
        return f"{value:g}"

    @model_validator(mode="before")
    @classmethod
    def _single_value_is_critical(cls, data: Any) -> Any:
        if isinstance(data, dict | Limits):
            return data
        return {"critical": data}

    @field_validator("warning", "critical", mode="before")
    @classmethod
    def _parse_limit(cls, value: Any) -> Range | None:
        if value is None or isinstance(value, Range):
            return value
        if isinstance(value, str) and (":" in value or "@" in value):
            return parse_range(value, cls.parse_value)
        try:
            limit = cls.parse_value(value)
        except ValueError as error:
            raise ValueError(str(error)) from None
        text = value if isinstance(value, str) else cls.format_value(limit)
        if cls.direction == "upper":
            return Range(-math.inf, limit, text=text)
        return Range(limit, math.inf, text=text)

    @model_validator(mode="after")
    def _warning_comes_first(self) -> Limits:
        """A plain warning limit past the critical one would never warn: say so."""
        warning, critical = self.warning, self.critical
        if warning is None or critical is None or _is_range(warning) or _is_range(critical):
            return self
        if self.direction == "upper" and warning.end > critical.end:
            raise ValueError(
                f"warning ({warning.text}) is above critical ({critical.text}): higher is worse "
                "here, so warning must not exceed critical"
            )
        if self.direction == "lower" and warning.start < critical.start:
            raise ValueError(
                f"warning ({warning.text}) is below critical ({critical.text}): lower is worse "
                "here, so warning must not be below critical"
            )
        return self

    def grade(self, value: float) -> Status:
        if self.critical is not None and self.critical.alerts(value):
            return Status.CRITICAL
        if self.warning is not None and self.warning.alerts(value):
            return Status.WARNING
        return Status.OK

    def describe(self, status: Status) -> str:
        """The limit that produced ``status``, for summaries: ``limit 90``."""
        limit = self.critical if status is Status.CRITICAL else self.warning
        if limit is None:
            return ""
        if _is_range(limit):
            return f"range {limit.text}"
        bound = limit.end if self.direction == "upper" else limit.start
        word = "max" if self.direction == "upper" else "min"
        return f"{word} {self.format_value(bound)}"


def _is_range(limit: Range) -> bool:
    """Written as a Nagios range (``10:``, ``@1:2``) rather than a plain limit."""
    return ":" in limit.text or "@" in limit.text


class PercentLimits(Limits):
    @staticmethod
    def format_value(value: float, /) -> str:
        return f"{value:g}%"


class DurationLimits(Limits):
    parse_value = staticmethod(parse_duration)
    format_value = staticmethod(format_duration)


class SizeLimits(Limits):
    parse_value = staticmethod(parse_size)
    format_value = staticmethod(format_size)


class MinSizeLimits(SizeLimits):
    direction: ClassVar[str] = "lower"
