"""Fixtures shared by the test suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.fuse_mounts import FuseMounts

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def fuse_mount(tmp_path: Path) -> Iterator[FuseMounts]:
    """``fuse_mount("hung")``: a real FUSE mount, aborted and unmounted in teardown."""
    mounts = FuseMounts(tmp_path)
    try:
        yield mounts
    finally:
        mounts.close()
