"""docs/clusters/: every shipped config is valid for its program, and docs/clusters.md names it.
(The remote-write and federation shapes run for real in tests/integration/test_clusters_e2e.py.)"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.docs.snippets import DOCS
from tests.mixin.test_rules import promtool

SHIPPED = DOCS / "clusters"
PROMETHEUS_FILES = sorted(path.name for path in SHIPPED.glob("*.yml"))


def test_every_shipped_file_is_named_in_the_guide() -> None:
    guide = (DOCS / "clusters.md").read_text()
    files = sorted(path.name for path in SHIPPED.iterdir())
    assert len(files) >= 5
    assert [name for name in files if f"docs/clusters/{name}" not in guide] == []


@pytest.mark.parametrize("name", PROMETHEUS_FILES)
def test_prometheus_accepts_the_config(name: str) -> None:
    result = promtool("check", "config", "--syntax-only", name, cwd=SHIPPED)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["cluster-prometheus.yml", "cluster-prometheus-central-rules.yml"])
def test_each_cluster_names_itself_and_writes_to_the_store(name: str) -> None:
    config = yaml.safe_load((SHIPPED / name).read_text())
    assert set(config["global"]["external_labels"]) == {"cluster"}
    assert [w["url"].endswith("/api/v1/write") for w in config["remote_write"]] == [True]


def test_the_thanos_script_parses_and_refuses_no_argument() -> None:
    script = SHIPPED / "thanos.sh"
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    result = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr.strip()) == (2, f"usage: {script} sidecar|query")
