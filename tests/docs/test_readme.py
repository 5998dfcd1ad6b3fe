"""The README stays a front door: short, its two commands intact, its map of the tree true."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from exporter.config import parse_config
from exporter.registry import default_registry
from tests.conftest import SLOW, TESTS
from tests.docs.snippets import fenced_blocks, readme_commands

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
#: The commands a fresh machine needs; CI (.ci/run) runs the last, then the others in a minimal
#: Debian (scripts/check-fresh-debian). Such a Debian has no python3, no venv module (ensurepip)
#: and no package lists: the first fetches the lists and installs both (python3-venv needs python3).
COMMANDS = (
    "sudo apt-get update && sudo apt-get install -y python3-venv",
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/site-status run",
    "sudo bash scripts/test",
)


def layout_map() -> str:
    section = README.read_text().split("## Where things are", 1)[1]
    return section.split("```\n", 1)[1].split("```", 1)[0]


def mapped_paths(block: str) -> list[str]:
    """Paths the map names: the first column, a line indented by two under its directory."""
    paths: list[str] = []
    parent = ""
    for line in block.splitlines():
        names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0].split()
        if not line.startswith("  "):
            parent = names[0] if names[0].endswith("/") else ""
            paths += names
        else:
            paths += [parent + name for name in names]
    return paths


def test_the_readme_is_at_most_250_lines() -> None:
    assert len(README.read_text().splitlines()) <= 250


def test_the_two_commands_are_there_as_written() -> None:
    assert readme_commands() == list(COMMANDS)
    # CI runs the test command, then the others on a minimal Debian (outside the suite: minutes).
    ci = [
        line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.startswith("bash ")
    ]
    assert ci == ["bash scripts/test", "bash scripts/check-fresh-debian"]


def test_the_fresh_debian_check_runs_every_command_but_the_tests() -> None:
    check = REPO / "scripts" / "check-fresh-debian"
    done = subprocess.run(["bash", check, "--dry-run"], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == list(COMMANDS[:-1])


def test_every_path_of_the_map_exists() -> None:
    paths = mapped_paths(layout_map())
    assert len(paths) > 20
    missing = [path for path in paths if not list(REPO.glob(path.rstrip("/")))]
    assert missing == []


def test_the_map_parser_reads_nesting() -> None:
    block = "exporter/   runtime\n  cli.py app.py   the CLI\nalerts/ dashboards/   out\n"
    assert mapped_paths(block) == [
        "exporter/",
        "exporter/cli.py",
        "exporter/app.py",
        "alerts/",
        "dashboards/",
    ]


@pytest.mark.parametrize("text", fenced_blocks(README, "yaml"))
def test_the_readme_config_validates(text: str) -> None:
    parse_config(text, default_registry())


@pytest.mark.parametrize("pattern", SLOW)
def test_every_slow_pattern_matches_test_files(pattern: str) -> None:
    # The quick tier (scripts/test --quick) leaves these out: a pattern that matches nothing
    # means a file moved and its slow tests now run in the quick tier.
    assert [p for p in TESTS.glob(pattern) if p.name.startswith("test_")], pattern
