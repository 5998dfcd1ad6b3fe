"""tools/fleet/clusters.py end to end on a tiny store: two clusters of three sites."""

from __future__ import annotations

import pytest

from tools.fleet import clusters


def test_the_dashboards_on_a_store_of_two_clusters(capsys: pytest.CaptureFixture[str]) -> None:
    assert clusters.main(["--clusters", "2", "--sites", "3", "--range", "60", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split(" | ")[1]: line for line in out.splitlines() if line.startswith("| site")}
    # Each site once per cluster on the fleet's tiles; one cluster's site on the site dashboard.
    assert rows["Sites"].split(" | ")[6] == "6"
    assert rows["Site status"].split(" | ")[6] == "1"
    assert "2 clusters x 3 sites" in out
