"""The ``file`` probe on real files, symlinks, permissions and real (stale, hung) FUSE mounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import pytest

from exporter.blocking import BlockingRunner
from exporter.probe_api import Reason, Result, Status
from probes import file
from tests.support.context import make_context
from tests.support.timing import LOADED

if TYPE_CHECKING:
    from tests.support.fuse_mounts import FuseMounts

REPO = Path(__file__).resolve().parents[2]
HOUR = 3600.0


async def run_probe(
    budget: float = 5.0, blocking: BlockingRunner | None = None, **fields: Any
) -> Result:
    config = file.FileProbe.model_validate({"name": "f", "kind": "file", **fields})
    return await file.run(config, make_context(budget, blocking=blocking))


def write(path: Path, size: int = 10, age: float = 0.0) -> Path:
    path.write_bytes(b"x" * size)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def sample_values(result: Result) -> dict[str, float]:
    return {sample.family: sample.value for sample in result.samples}


async def test_fresh_file_is_ok(tmp_path: Path) -> None:
    path = write(tmp_path / "forecast.nc", size=42)
    result = await run_probe(path=str(path), max_age={"warning": "2h", "critical": "6h"})
    assert result.status is Status.OK
    assert result.summary.startswith(f"{path} is ")
    assert result.details["matched"] == str(path)
    assert result.details["count"] == 1
    assert result.details["size_bytes"] == 42
    assert result.details["age_seconds"] < 60
    values = sample_values(result)
    assert values["site_status_file_size_bytes"] == 42
    assert "site_status_file_matches" not in values  # one file: its status says 0 or 1
    assert values["site_status_file_age_seconds"] < 60


@pytest.mark.parametrize(
    ("age_hours", "status", "summary_end"),
    [(3, Status.WARNING, "is 3h old (max 2h)"), (7, Status.CRITICAL, "is 7h old (max 6h)")],
)
async def test_old_file_is_graded_on_its_age(
    tmp_path: Path, age_hours: int, status: Status, summary_end: str
) -> None:
    path = write(tmp_path / "forecast.nc", age=age_hours * HOUR)
    result = await run_probe(path=str(path), max_age={"warning": "2h", "critical": "6h"})
    assert result.status is status
    assert result.summary == f"{path} {summary_end}"
    assert result.details["age_seconds"] == pytest.approx(age_hours * HOUR, abs=60)


async def test_single_value_is_the_critical_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "f", age=3 * HOUR)
    result = await run_probe(path=str(path), max_age="2h")
    assert result.status is Status.CRITICAL
    assert result.summary == f"{path} is 3h old (max 2h)"


async def test_too_small_file_is_critical(tmp_path: Path) -> None:
    path = write(tmp_path / "f", size=10)
    result = await run_probe(path=str(path), min_size="1KiB")
    assert result.status is Status.CRITICAL
    assert result.summary.endswith(", 10B (min 1.0KiB)")


async def test_too_large_file_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "f", size=10)
    result = await run_probe(path=str(path), max_size={"warning": 5, "critical": "1KiB"})
    assert result.status is Status.WARNING
    assert result.summary.endswith(", 10B (max 5B)")


async def test_size_within_limits_is_ok(tmp_path: Path) -> None:
    path = write(tmp_path / "f", size=2048)
    result = await run_probe(path=str(path), min_size="1KiB", max_size="1MiB")
    assert result.status is Status.OK
    assert result.summary.endswith(", 2.0KiB")


async def test_glob_grades_the_newest_match(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", age=9 * HOUR)
    newest = write(tmp_path / "b.csv", age=3 * HOUR)
    write(tmp_path / "c.csv", age=5 * HOUR)
    write(tmp_path / ".hidden.csv")  # like glob: ``*`` does not match hidden files
    write(tmp_path / "other.txt")
    result = await run_probe(path=str(tmp_path / "*.csv"), max_age={"warning": "2h"})
    assert result.status is Status.WARNING
    assert result.summary == f"{newest} (newest of 3 matches) is 3h old (max 2h)"
    assert result.details["matched"] == str(newest)
    assert result.details["count"] == 3
    assert sample_values(result)["site_status_file_matches"] == 3


async def test_glob_with_a_wildcard_directory(tmp_path: Path) -> None:
    for day, age in (("day1", 30 * HOUR), ("day2", HOUR)):
        (tmp_path / day).mkdir()
        write(tmp_path / day / "out.nc", age=age)
    result = await run_probe(path=str(tmp_path / "day*" / "out.nc"))
    assert result.status is Status.OK
    assert result.details["matched"] == str(tmp_path / "day2" / "out.nc")
    assert result.details["count"] == 2


async def test_glob_without_match_is_critical(tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.nc")
    result = await run_probe(path=pattern)
    assert result.status is Status.CRITICAL
    assert result.summary == f"no file matches {pattern}"
    assert sample_values(result) == {"site_status_file_matches": 0}


async def test_glob_in_a_missing_directory_is_critical_missing(tmp_path: Path) -> None:
    # README: missing is CRITICAL; the directory not being there is the reason, not an error.
    pattern = str(tmp_path / "exports" / "export-*.csv")
    result = await run_probe(path=pattern)
    assert result.status is Status.CRITICAL
    assert result.summary == f"no file matches {pattern} ({tmp_path / 'exports'} does not exist)"
    assert sample_values(result) == {"site_status_file_matches": 0}


async def test_glob_in_a_missing_directory_can_be_allowed(tmp_path: Path) -> None:
    result = await run_probe(path=str(tmp_path / "exports" / "*.csv"), allow_missing=True)
    assert result.status is Status.OK


async def test_glob_below_a_file_is_missing_too(tmp_path: Path) -> None:
    write(tmp_path / "plain", age=HOUR)
    result = await run_probe(path=str(tmp_path / "plain" / "*.csv"))
    assert result.status is Status.CRITICAL
    assert result.summary.endswith(f"({tmp_path / 'plain'} is not a directory)")


async def test_directory_grades_its_newest_entry(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    write(incoming / "old", age=10 * HOUR)
    newest = write(incoming / "new", age=3 * HOUR)
    (incoming / "sub").mkdir()
    os.utime(incoming / "sub", (time.time() - 20 * HOUR,) * 2)
    result = await run_probe(path=str(incoming), max_age="6h")
    assert result.status is Status.OK
    assert result.details["matched"] == str(newest)
    assert result.details["count"] == 3
    assert result.summary.startswith(f"{newest} (newest of 3 entries) is 3h old")


async def test_empty_directory_is_critical(tmp_path: Path) -> None:
    result = await run_probe(path=str(tmp_path))
    assert result.status is Status.CRITICAL
    assert result.summary == f"{tmp_path} is empty"


async def test_missing_file_is_critical(tmp_path: Path) -> None:
    path = tmp_path / "forecast.nc"
    result = await run_probe(path=str(path), max_age="6h")
    assert result.status is Status.CRITICAL
    assert result.summary == f"{path} is missing"
    assert result.details["count"] == 0


async def test_missing_file_can_be_allowed(tmp_path: Path) -> None:
    path = tmp_path / "optional.lock"
    result = await run_probe(path=str(path), allow_missing=True)
    assert result.status is Status.OK
    assert result.summary == f"{path} absent (allowed)"
    empty = await run_probe(path=str(tmp_path), allow_missing=True)
    assert empty.status is Status.OK


async def test_broken_symlink_is_critical(tmp_path: Path) -> None:
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "release-42")
    result = await run_probe(path=str(link))
    assert result.status is Status.CRITICAL
    assert result.summary == f"broken symlink {link} -> {tmp_path / 'release-42'}"


async def test_symlink_to_a_file_is_followed(tmp_path: Path) -> None:
    target = write(tmp_path / "target", size=7, age=3 * HOUR)
    link = tmp_path / "link"
    link.symlink_to(target)
    result = await run_probe(path=str(link), max_age="1h")
    assert result.status is Status.CRITICAL
    assert result.details["size_bytes"] == 7


async def test_symlink_loop_is_critical(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = await run_probe(path=str(tmp_path / "a"))
    assert result.status is Status.CRITICAL
    assert result.summary == f"symlink loop at {tmp_path / 'a'}"


#: Runs the probe as uid 65534: root skips permission checks. The interpreter lives under a
#: directory only root may enter, so the child starts as root, imports what it needs, and only
#: then gives up root for good (setgroups/setgid/setuid also drop every capability).
AS_NOBODY = """
import json, os, sys
import anyio, anyio._backends._asyncio
from probes import file
from tests.support.context import make_context

os.setgroups([])
os.setgid(65534)
os.setuid(65534)

async def main() -> None:
    config = file.FileProbe(name="f", kind="file", path=sys.argv[1])
    result = await file.run(config, make_context(2.0))
    print(json.dumps({"uid": os.getuid(), "status": result.status.name,
                      "summary": result.summary}))

anyio.run(main)
"""


def run_as_nobody(path: Path) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, str(path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output: dict[str, Any] = json.loads(completed.stdout)
    return output


def test_permission_denied_is_unknown() -> None:
    with tempfile.TemporaryDirectory(prefix="site-status-perm-") as top:
        Path(top).chmod(0o755)  # nobody may enter the top directory ...
        private = Path(top) / "private"
        private.mkdir(mode=0o700)  # ... but not this one
        path = write(private / "data.nc")
        output = run_as_nobody(path)
    assert output == {
        "uid": 65534,
        "status": "UNKNOWN",
        "summary": f"{path} cannot be read: permission denied",
    }


async def test_file_on_a_stale_mount_is_unknown(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("stale")
    path = f"{mount.path}/hello"
    result = await run_probe(budget=1.0, path=path)
    assert result.status is Status.UNKNOWN
    assert result.summary == f"{path}: Stale file handle"
    assert result.reason is Reason.STALE_HANDLE


async def test_glob_on_a_stale_mount_is_unknown_not_missing(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("stale")
    result = await run_probe(budget=1.0, path=f"{mount.path}/*.nc")
    assert result.status is Status.UNKNOWN
    assert "Stale file handle" in result.summary


async def test_file_on_a_healthy_fuse_mount(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("ok")
    result = await run_probe(budget=1.0, path=f"{mount.path}/hello", min_size=1)
    assert result.status is Status.OK
    assert result.details["size_bytes"] == len(b"hello\n")
    listing = await run_probe(budget=1.0, path=mount.path)
    assert listing.details["count"] == 1


async def test_file_on_a_hung_mount_returns_in_time(fuse_mount: FuseMounts) -> None:
    mount = fuse_mount("hung")
    runner = BlockingRunner()
    path = f"{mount.path}/hello"
    started = time.monotonic()
    result = await run_probe(budget=0.5, blocking=runner, path=path)
    assert time.monotonic() - started < 0.5 + LOADED
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith(f"{path}: hung: no answer from {mount.path} within ")
    assert (result.reason, result.part) == (Reason.HUNG, mount.path)
    assert runner.stuck().keys() == {mount.path}

    # At once: waiting on the earlier call would take this run's 5 s.
    started = time.monotonic()
    again = await run_probe(budget=5.0, blocking=runner, path=path)
    assert time.monotonic() - started < LOADED
    assert again.status is Status.UNKNOWN
    assert again.summary.startswith(f"{path}: hung: an earlier call on {mount.path} has not")
    assert runner.abandoned_threads() == 1


def test_path_must_be_absolute() -> None:
    with pytest.raises(pydantic.ValidationError, match="absolute"):
        file.FileProbe.model_validate({"name": "f", "kind": "file", "path": "data/x"})


def test_kind_declares_its_name_and_series() -> None:
    assert file.KIND.name == "file"
    assert [family.name for family in file.KIND.metrics] == [
        "site_status_file_age_seconds",
        "site_status_file_size_bytes",
        "site_status_file_matches",
    ]
