"""Sizes are parsed by ``pydantic.ByteSize``: the same bytes as the hand-written parser it
replaced, on every input that parser took; durations stay hand-written."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.units import parse_size

#: The hand-written size parser that exporter/units.py had before ByteSize, kept as the
#: reference the new one must agree with.
_REFERENCE_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?", re.IGNORECASE)
_REFERENCE_POWER = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def reference_parse_size(text: str) -> float:
    match = _REFERENCE_SIZE.fullmatch(text.strip())
    if not match:
        raise ValueError(text)
    number, prefix, binary = match.groups()
    base = 1024 if binary else 1000
    return float(number) * float(base ** _REFERENCE_POWER[prefix.lower()])


#: Sizes as this project's README and default config write them, and as operators do.
WRITTEN = [
    "512",
    "64MiB",  # reports.max_file_bytes, loki.spool.max_bytes
    "1MiB",  # loki.batch_max_bytes, http max_body_bytes
    "256KiB",  # loki.max_line_bytes (Loki's max_line_size default: 256KB)
    "10KiB",
    "10KB",
    "10k",
    "5MB",
    "1.5GiB",
    "1.5G",
    "2Ti",
    "1 GiB",
    " 7 kb ",
    "100b",
    "1P",
]


@pytest.mark.parametrize("text", WRITTEN)
def test_sizes_as_written_agree_with_the_reference(text: str) -> None:
    assert parse_size(text) == reference_parse_size(text)


SIZE_TEXT = st.builds(
    lambda number, space, prefix, binary, b: f"{number}{space}{prefix}{binary}{b}",
    st.from_regex(r"\A\d{1,7}(\.\d{1,4})?\Z"),
    st.sampled_from(["", " "]),
    st.sampled_from(["k", "K", "m", "M", "g", "G", "t", "T", "p", "P"]),
    st.sampled_from(["", "i"]),
    st.sampled_from(["", "b", "B"]),
) | st.from_regex(r"\A\d{1,12}\s?[bB]?\Z")


@given(SIZE_TEXT)
def test_bytesize_gives_the_bytes_the_reference_gave(text: str) -> None:
    reference = reference_parse_size(text)
    size = parse_size(text)
    # Whole bytes: identical; a fraction of a byte (only from a fractional number) is dropped.
    if reference.is_integer():
        assert size == reference
    else:
        assert size == math.trunc(reference)


@pytest.mark.parametrize(
    "bad", ["", "lots", "10x", "-1", "1e3", "10KBB", "nan", "1.5.5k", True, None]
)
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(bad)


def test_numbers_are_taken_as_they_are() -> None:
    assert parse_size(512) == 512
    assert parse_size(0.5) == 0.5
    with pytest.raises(ValueError, match="finite"):
        parse_size(float("inf"))
