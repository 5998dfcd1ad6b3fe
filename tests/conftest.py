"""Fixtures shared by the test suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fuse_mounts import FuseMounts


@pytest.fixture
def fuse_mount(tmp_path: Path) -> Iterator[FuseMounts]:
    """``fuse_mount("hung")``: a real FUSE mount, aborted and unmounted in teardown."""
    mounts = FuseMounts(tmp_path)
    try:
        yield mounts
    finally:
        mounts.close()
