"""Drush runs and mount tables recorded from real software, replayed through the real probes.

Drush: the ``drush`` stand-in prints the recorded stdout (and stderr, with the recorded exit
code) to the real ``drupal`` probe, run by the real local command runner. Mount tables: the
recorded ``mountinfo`` is the table the ``disk`` and ``mount`` probes read (the runtime's
``/proc`` root points at it), and every mount point it names exists as a directory under a
root filesystem of their own (the runtime's ``rootfs``), a fresh tmpfs, so that ``statvfs``
answers for real with known figures. Cases, sources and expectations:
``tests/fixtures/realworld/{drush,mounts}/cases.yaml`` and the READMEs beside them.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.mounts import MountTable
from exporter.status import Status
from probes import disk, mount
from probes.drupal import probe as drupal
from tests.support.context import make_context

REALWORLD = Path(__file__).parent.parent / "fixtures" / "realworld"
DRUSH_CORPUS = REALWORLD / "drush"
MOUNT_CORPUS = REALWORLD / "mounts"
STACK_FRAME = re.compile(r"#\d+ (?:/|\[internal|\{main\})|Exception trace|Stack trace")
DRUSH = str(Path(__file__).parent.parent / "support" / "drush")
DRUSH_CASES: list[dict[str, Any]] = yaml.safe_load((DRUSH_CORPUS / "cases.yaml").read_text())
MOUNT_CASES: list[dict[str, Any]] = yaml.safe_load((MOUNT_CORPUS / "cases.yaml").read_text())


def drush_env(case: dict[str, Any]) -> dict[str, str]:
    env = {"DRUSH_STANDIN_EXIT": str(case.get("exit", 0))}
    for key, variable in (
        ("stdout", "DRUSH_STANDIN_REQUIREMENTS"),
        ("stderr", "DRUSH_STANDIN_STDERR"),
        ("status", "DRUSH_STANDIN_STATUS"),
    ):
        if key in case:
            env[variable] = str(DRUSH_CORPUS / case[key])
    return env


@pytest.mark.parametrize("case", DRUSH_CASES, ids=[case["name"] for case in DRUSH_CASES])
async def test_recorded_drush_run_is_graded_as_an_operator_expects(case: dict[str, Any]) -> None:
    config = drupal.DrupalProbe.model_validate(
        {
            "name": "site",
            "kind": "drupal",
            "drush": DRUSH,
            "env": drush_env(case),
            "arguments": case.get("arguments", ["core-requirements", "--format=json"]),
            "status_interval": "6h" if "status" in case else 0,
        }
    )
    result = await drupal.run(config, make_context(20.0))
    assert result.status is Status[case["grade"]], result.summary
    for words in case["summary"]:
        assert words in result.summary, result.summary
    assert len(result.summary) <= 300 and "\n" not in result.summary
    if case.get("exit"):
        # A failed run is summarised by its cause: never a stack frame, a URL, a pointer to
        # more output, or the generic line Drush prints after any fatal error.
        assert not STACK_FRAME.search(result.summary), result.summary
        for noise in ("http://", "https://", "for details", "terminated abnormally", "-vvv"):
            if noise not in " ".join(case["summary"]):
                assert noise not in result.summary, result.summary
    for key, value in case.get("drupal", {}).items():
        assert result.details["drupal"][key] == value
    assert "db-password" not in str(result.details)


@pytest.fixture
def rootfs(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs: the root filesystem the recorded mount points are made in."""
    root = tmp_path / "rootfs"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(root)], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False, timeout=10)


def recorded_host(tmp_path: Path, rootfs: Path, table_file: str) -> str:
    """The ``/proc`` root holding the recorded table; its mount points made under ``rootfs``."""
    proc = tmp_path / "proc" / "self"
    proc.mkdir(parents=True)
    (proc / "mountinfo").write_bytes((MOUNT_CORPUS / table_file).read_bytes())
    for recorded in MountTable.read(proc / "mountinfo").all():
        (rootfs / recorded.mountpoint.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return str(tmp_path / "proc")


@pytest.mark.parametrize("case", MOUNT_CASES, ids=[case["file"] for case in MOUNT_CASES])
async def test_recorded_mount_table_is_graded_as_an_operator_expects(
    tmp_path: Path, rootfs: Path, case: dict[str, Any]
) -> None:
    proc = recorded_host(tmp_path, rootfs, case["file"])
    for kind, module in (("disk", disk), ("mount", mount)):
        expected = case[kind]
        config = module.KIND.config.model_validate({"name": kind, "kind": kind})
        result = await module.KIND.run(
            config, make_context(5.0, proc_root=proc, rootfs=str(rootfs))
        )
        assert result.status is Status[expected["grade"]], (kind, result.summary)
        for words in expected["summary"]:
            assert words in result.summary, (kind, result.summary)
        entries = result.details["filesystems" if kind == "disk" else "mounts"]
        assert [entry["mountpoint"] for entry in entries] == expected["covers"], kind


def test_every_recorded_input_has_a_case_and_a_cited_source() -> None:
    for corpus, cases, keys in (
        (DRUSH_CORPUS, DRUSH_CASES, ("stdout", "stderr", "status")),
        (MOUNT_CORPUS, MOUNT_CASES, ("file",)),
    ):
        files = {p.name for p in corpus.iterdir() if p.name not in ("cases.yaml", "README.md")}
        used = {case[key] for case in cases for key in keys if key in case}
        assert files == used
        readme = (corpus / "README.md").read_text()
        for case in cases:
            assert case["source"] and case["adapted"], case
            for key in keys:
                if key in case:
                    assert case[key] in readme, case[key]
    assert len(DRUSH_CASES) + len(MOUNT_CASES) >= 15
