"""Fixtures shared by the test suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests.support.fuse_mounts import FuseMounts

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

# Property tests: no example database in the repository, few examples, every example bounded.
settings.register_profile(
    "site-status",
    database=None,
    max_examples=100,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("site-status")


@pytest.fixture
def fuse_mount(tmp_path: Path) -> Iterator[FuseMounts]:
    """``fuse_mount("hung")``: a real FUSE mount, aborted and unmounted in teardown."""
    mounts = FuseMounts(tmp_path)
    try:
        yield mounts
    finally:
        mounts.close()
