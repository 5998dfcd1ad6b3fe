"""``site-status check`` for people: coloured, fitted to the terminal; unchanged when piped."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.exporter_process import command_env, site_status

ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def config(tmp_path: Path) -> Path:
    long_path = tmp_path.joinpath(*["a-very-long-directory-name"] * 12, "forecast.nc")
    path = tmp_path / "site.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "site": {"name": "demo"},
                "reports": {"file": str(tmp_path / "reports.jsonl")},
                "probes": [
                    {"name": "forecast", "kind": "file", "path": str(long_path)},
                    {"name": "marker", "kind": "file", "path": str(tmp_path / "gone")},
                    {"name": "here", "kind": "file", "path": str(path)},
                ],
            }
        )
    )
    return path


def check_on_a_terminal(path: Path, **environ: str) -> tuple[int, str]:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", "check", "--config", str(path)],
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env={**command_env(), **environ},
    )
    os.close(terminal)
    seen = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(controller, 65536):
            seen += chunk
    os.close(controller)
    return process.wait(timeout=60), seen.decode().replace("\r\n", "\n")


def test_on_a_terminal_status_words_are_coloured_and_lines_fit(tmp_path: Path) -> None:
    code, text = check_on_a_terminal(config(tmp_path), COLUMNS="72", TERM="xterm")
    assert code == 2
    lines = text.rstrip("\n").split("\n")
    assert all(len(ESCAPE.sub("", line)) <= 72 for line in lines), lines
    assert "\x1b[1;31mCRITICAL\x1b[0m" in text
    assert "\x1b[32mOK\x1b[0m" in text
    plain = [ESCAPE.sub("", line) for line in lines]
    # The long summary wraps under its column, at most three lines, cut with a marker.
    start = next(i for i, line in enumerate(plain) if line.startswith("forecast "))
    column = plain[1].index("SUMMARY")
    continued = [line for line in plain[start + 1 : start + 4] if line.startswith(" " * column)]
    assert len(continued) == 2
    assert continued[-1].endswith("…")
    assert plain[start + 3].startswith("marker ")


def test_no_color_keeps_the_words_and_drops_the_colour(tmp_path: Path) -> None:
    _, text = check_on_a_terminal(config(tmp_path), COLUMNS="72", TERM="xterm", NO_COLOR="1")
    assert "\x1b[" not in text
    assert "CRITICAL" in text
    assert all(len(line) <= 72 for line in text.splitlines())


def test_piped_the_output_is_plain_and_uncut(tmp_path: Path) -> None:
    path = config(tmp_path)
    done = site_status("check", "--config", str(path))
    assert done.returncode == 2
    assert "\x1b[" not in done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith("SITE-STATUS CRITICAL - ")
    assert "forecast.nc is missing" in lines[0]
    assert lines[1].split() == ["PROBE", "KIND", "STATUS", "SUMMARY"]
    assert len(lines) == 5  # one row per probe, no wrapping
    assert any(line.endswith("forecast.nc is missing") for line in lines[2:])
