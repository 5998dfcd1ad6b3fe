"""``python -m mixin`` works from an install, not only from the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from mixin.config import load_config
from mixin.generate import REPO, generated_files
from tests.support.exporter_process import command_env


def mixin(*args: str, cwd: Path, code: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "mixin", *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env=command_env(), check=False
    )


def test_it_writes_every_file_into_out(tmp_path: Path) -> None:
    done = mixin("--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name, text in generated_files(load_config(None)).items():
        assert (tmp_path / "out" / name).read_text() == text


def test_without_the_sdk_it_says_which_extra_to_install(tmp_path: Path) -> None:
    blocked = (
        "import sys, runpy; sys.modules['grafana_foundation_sdk'] = None; "
        "runpy.run_module('mixin', run_name='__main__')"
    )
    done = mixin(cwd=tmp_path, code=blocked)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "python -m mixin: the dashboards need Grafana's SDK: "
        "pip install 'site-status-exporter[mixin]' (or '.[mixin]' in a checkout)"
    )


def test_the_wheel_carries_the_mixin(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("site_status_exporter-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mixin/__main__.py" in names
    assert "mixin/dashboards/fleet.py" in names
    metadata = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Provides-Extra: mixin" in text
