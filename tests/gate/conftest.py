"""Real exporters for the gate to judge: each a ``site-status run`` with one file probe whose
file the test removes (CRITICAL "missing") and puts back (OK)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.support.exporter_process import (
    RunningExporter,
    command_env,
    running_exporter,
    wait_until,
)


@dataclass
class Site:
    name: str
    exporter: RunningExporter
    marker: Path

    def fail(self) -> None:
        self.marker.unlink()

    def heal(self) -> None:
        self.marker.write_text("ok\n")

    def status(self) -> str:
        return str(self.exporter.status()["status"])


def site_config(workdir: Path, name: str, tier: str = "priprod", **site: Any) -> tuple[Path, Path]:
    directory = workdir / name
    directory.mkdir()
    marker = directory / "release-ok"
    marker.write_text("ok\n")
    config = {
        "site": {"name": name, "environment": "prod", "tier": tier, "profile": "gate", **site},
        "reports": {"file": str(directory / "reports.jsonl")},
        "defaults": {"interval": "500ms", "timeout": "400ms"},
        "probes": [{"name": "release-marker", "kind": "file", "path": str(marker)}],
    }
    path = directory / "site.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, marker


@contextlib.contextmanager
def running_site(workdir: Path, name: str, tier: str = "priprod", **site: Any) -> Iterator[Site]:
    config, marker = site_config(workdir, name, tier, **site)
    with running_exporter(config, workdir / name) as exporter:
        running = Site(name, exporter, marker)
        wait_until(lambda: running.status() == "OK", timeout=20, interval=0.1)
        yield running


def maintenance_now() -> list[dict[str, str]]:
    now = datetime.now(UTC)
    return [
        {
            "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(),
            "reason": "planned upgrade",
        }
    ]


def gate(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", "gate", *args],
        capture_output=True,
        text=True,
        env=command_env(),
        timeout=timeout,
        check=False,
    )


def start_gate(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", "gate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(),
    )
