"""Fixtures shared by the test suite."""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests.support.fuse_mounts import FuseMounts

if TYPE_CHECKING:
    from collections.abc import Iterator

# Property tests: no example database in the repository, few examples, every example bounded
# (10 s: a bound for a hang, not a timing: at load 100 one httpd example took over 2 s).
settings.register_profile(
    "site-status",
    database=None,
    max_examples=100,
    deadline=10_000,
    suppress_health_check=[HealthCheck.too_slow],
)
# scripts/test --quick: a fifth of the examples (HYPOTHESIS_PROFILE=quick); CI draws them all.
settings.register_profile("quick", settings.get_profile("site-status"), max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "site-status"))


@pytest.fixture
def fuse_mount(tmp_path: Path) -> Iterator[FuseMounts]:
    """``fuse_mount("hung")``: a real FUSE mount, aborted and unmounted in teardown."""
    mounts = FuseMounts(tmp_path)
    try:
        yield mounts
    finally:
        mounts.close()


TESTS = Path(__file__).resolve().parent
#: Tests left out by ``scripts/test --quick`` (``-m "not slow"``): end-to-end runs of the
#: exporter with its peers (the gate's against real exporters and Prometheus), the fleet's
#: rules, routing and smoke runs, the benchmarks' smoke runs, and the few that evaluate 30 days
#: of rules, query a large TSDB or hold hundreds of connections. Globs, relative to tests/;
#: a single test says ``pytest.mark.slow`` itself.
SLOW = (
    "integration/*",
    "test_fleet_*.py",
    "mixin/test_fleet_*.py",
    "*/test_bench_*.py",
    "test_bench_*.py",
    "gate/test_gate_exporters.py",
    "gate/test_gate_prometheus.py",
    "kube/test_exporter_in_kubernetes.py",
    "mixin/test_site_queries_scale.py",
    "core/test_httpd_attacks.py",
)


#: The longest files, in the order scripts/test's workers (pytest-xdist, a file at a time) should
#: start them: longest first, so that no long file starts last and runs alone at the end.
LONGEST = (
    "test_fleet_smoke.py",
    "integration/test_alerting_e2e.py",
    "mixin/test_rules.py",
    "service_report/test_month.py",
    "gate/test_gate_exporters.py",
    "mixin/test_error_budget.py",
)


def start_order(item: pytest.Item) -> int:
    relative = item.path.relative_to(TESTS).as_posix()
    return LONGEST.index(relative) if relative in LONGEST else len(LONGEST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.relative_to(TESTS).as_posix()
        if any(fnmatch(relative, pattern) for pattern in SLOW):
            item.add_marker(pytest.mark.slow)
    items.sort(key=start_order)  # stable: the rest keep their order
