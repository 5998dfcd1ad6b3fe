"""Parsing of the human units used in config: durations and byte sizes."""

from __future__ import annotations

import math
import re

from pydantic import ByteSize, TypeAdapter, ValidationError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: pydantic's parser of ``10KiB``-style sizes (decimal ``KB``/``k``, binary ``KiB``).
_BYTE_SIZE: TypeAdapter[ByteSize] = TypeAdapter(ByteSize)
#: A number and a unit word, nothing else (ByteSize alone ignores what follows: ``1.5.5k``).
_SIZE_SHAPE = re.compile(r"(\d+(\.\d+)?|\.\d+)\s*[a-z]*", re.IGNORECASE)
#: ``1.5Gi`` (binary prefix, no ``B``), which ByteSize spells ``1.5GiB``.
_BINARY_WITHOUT_B = re.compile(r"([kmgtpe]i)$", re.IGNORECASE)


def parse_duration(value: object) -> float:
    """Seconds from ``30s``, ``5m``, ``1h30m``, ``500ms`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _compound_duration(text, value)
    else:
        raise ValueError(f"invalid duration {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a finite number >= 0")
    return seconds


def _compound_duration(text: str, original: str) -> float:
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(
            f"invalid duration {original!r}: use e.g. 30s, 5m, 2h, 1h30m, 500ms or seconds"
        )
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def parse_size(value: object) -> float:
    """Bytes from ``512``, ``10k``, ``10KB`` (1000), ``10KiB`` or ``10Ki`` (1024), ``1.5G`` ...

    Text is parsed by ``pydantic.ByteSize`` (whole bytes: a fraction of a byte is dropped);
    a number is taken as it is.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int | float):
        size = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if not _SIZE_SHAPE.fullmatch(text):
                raise ValueError(text)
            size = float(_BYTE_SIZE.validate_python(_BINARY_WITHOUT_B.sub(r"\1b", text)))
        except (ValidationError, ValueError):
            raise ValueError(
                f"invalid size {value!r}: use e.g. 512, 10KiB, 5MB or 1.5GiB"
            ) from None
    else:
        raise ValueError(f"invalid size {value!r}")
    if not math.isfinite(size) or size < 0:
        raise ValueError(f"invalid size {value!r}: must be a finite number >= 0")
    return size


def format_duration(seconds: float) -> str:
    """A short human form, rounded for people: ``2.7ms``, ``0.27s``, ``2.5s``, ``45s``, ``7m``,
    ``3h12m``, ``2d4h``."""
    if seconds < 0.1:
        return _format_milliseconds(seconds)
    s = round(seconds)
    if s < 120:
        return f"{seconds:.2g}s" if seconds < 9.5 else f"{s}s"
    minutes, _ = divmod(s, 60)
    if minutes < 120:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def _format_milliseconds(seconds: float) -> str:
    milliseconds = seconds * 1000
    if milliseconds <= 0:
        return "0s"
    if milliseconds < 0.1:
        return "<0.1ms"
    return f"{milliseconds:.1f}ms" if milliseconds < 9.95 else f"{round(milliseconds)}ms"


def format_size(size: float) -> str:
    """Binary units: ``512B``, ``1.5KiB``, ``3.2GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")
