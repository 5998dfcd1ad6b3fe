"""The local command runner against real child processes (the drush stand-in, sh, sleep)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import anyio
import pytest

from exporter.command_runners import CommandSpec, CommandUnavailable
from exporter.command_runners.local import CLEANUP_GRACE, LocalRunner, Spawn, reap_abandoned
from exporter.context import ProbeRuntime
from tests.support.fuse_mounts import FuseMounts
from tests.support.processes import alive_in_group, process_state
from tests.support.timing import wait_for

DRUSH = str(Path(__file__).resolve().parents[1] / "support" / "drush")
STAT_TIMEOUT = 3.0


def spec(*argv: str, timeout: float = 10.0, **env: str) -> CommandSpec:
    return CommandSpec(argv=argv, timeout=timeout, env=env)


async def test_output_exit_code_and_both_streams() -> None:
    output = await LocalRunner().run(spec("sh", "-c", "echo out; echo err >&2; exit 3"))
    assert output.exit_code == 3
    assert output.stdout == b"out\n"
    assert output.stderr == b"err\n"
    assert not output.timed_out and not output.stdout_truncated


async def test_environment_and_working_directory(tmp_path: Path) -> None:
    output = await LocalRunner().run(
        CommandSpec(
            argv=("sh", "-c", 'echo "$SITE_VAR" && pwd'),
            timeout=5,
            cwd=str(tmp_path),
            env={"SITE_VAR": "from-config"},
        )
    )
    assert output.stdout.decode().splitlines() == ["from-config", str(tmp_path)]


async def test_missing_executable_is_unavailable() -> None:
    with pytest.raises(CommandUnavailable, match="no-such-drush: No such file"):
        await LocalRunner().run(spec("no-such-drush", "status"))


async def test_missing_working_directory_is_unavailable(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone")
    with pytest.raises(CommandUnavailable, match=f"working directory {missing}"):
        await LocalRunner().run(CommandSpec(argv=("true",), timeout=5, cwd=missing))


async def test_output_beyond_the_cap_is_drained_and_dropped() -> None:
    started = time.monotonic()
    output = await LocalRunner().run(
        CommandSpec(
            argv=(DRUSH, "core-requirements"),
            timeout=30,
            env={"DRUSH_STANDIN_MODE": "flood"},
            max_output_bytes=1024 * 1024,
        )
    )
    # The child wrote all 10 MB and exited by itself: the pipe never filled up.
    assert output.exit_code == 0 and not output.timed_out
    assert output.stdout_truncated
    assert len(output.stdout) == 1024 * 1024
    assert output.stdout.startswith(b"PHP Notice: x")
    assert time.monotonic() - started < 20


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    started = time.monotonic()
    output = await LocalRunner().run(
        spec(
            DRUSH,
            "core-requirements",
            # 3 s: the stand-in (Python) starts and prints before it on a loaded machine too.
            timeout=3.0,
            DRUSH_STANDIN_MODE="hang",
            DRUSH_STANDIN_PIDS=str(pids),
        )
    )
    elapsed = time.monotonic() - started
    assert output.timed_out and output.exit_code is None
    assert output.stdout == b"PHP Deprecated:  something before the hang\n"
    assert 2.9 < elapsed < 3.0 + CLEANUP_GRACE + 2
    leader, child = (int(pid) for pid in pids.read_text().split())
    # The leader is reaped by us; its child (reparented to init) got SIGKILL and is gone within
    # moments (a SIGKILLed process still shows as running until the kernel schedules its exit):
    # nothing of the group is left running.
    assert process_state(leader) is None
    await wait_for(lambda: process_state(child) in (None, "Z") and alive_in_group(leader) == [])


async def test_stragglers_are_killed_when_the_command_exits(tmp_path: Path) -> None:
    pid_file = tmp_path / "straggler"
    output = await LocalRunner().run(
        spec("sh", "-c", f"sleep 600 >/dev/null 2>&1 & echo $! > {pid_file}; echo done")
    )
    assert output.exit_code == 0 and output.stdout == b"done\n"
    straggler = int(pid_file.read_text())
    await wait_for(lambda: process_state(straggler) in (None, "Z"))


async def test_a_pipe_held_outside_the_group_does_not_hold_the_run(tmp_path: Path) -> None:
    # setsid puts the sleeper in a session of its own, out of reach of the group kill; it keeps
    # our stdout open. The run must still end within the cleanup grace.
    pid_file = tmp_path / "escaped"
    started = time.monotonic()
    output = await LocalRunner().run(
        spec("sh", "-c", f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 600' & echo hi")
    )
    try:
        assert output.exit_code == 0
        assert output.stdout.startswith(b"hi\n")
        assert time.monotonic() - started < 5
    finally:
        for _ in range(50):
            if pid_file.exists() and pid_file.read_text().strip():
                os.kill(int(pid_file.read_text()), 9)
                break
            await anyio.sleep(0.05)


async def test_child_in_uninterruptible_sleep_is_abandoned_then_reaped(
    fuse_mount: FuseMounts, tmp_path: Path
) -> None:
    hung = fuse_mount("hung")
    pids = tmp_path / "pids"
    started = time.monotonic()
    output = await LocalRunner().run(
        spec(
            DRUSH,
            "status",
            # The stand-in (Python) must start and reach the stat before this: 1 s was missed
            # under a loaded machine's start-up.
            timeout=STAT_TIMEOUT,
            DRUSH_STANDIN_MODE="stat",
            DRUSH_STANDIN_PATH=f"{hung.path}/anything",
            DRUSH_STANDIN_PIDS=str(pids),
        )
    )
    assert output.timed_out
    # SIGKILL does not end a process in D state: we returned anyway, after the grace.
    assert time.monotonic() - started < STAT_TIMEOUT + CLEANUP_GRACE + 2
    pid = int(pids.read_text())
    assert process_state(pid) == "D"
    assert reap_abandoned() >= 1
    hung.abort()  # the stuck stat returns, the pending SIGKILL ends the child

    def reaped() -> bool:
        reap_abandoned()
        return process_state(pid) is None

    await wait_for(reaped)  # else the abandoned child was not reaped


async def test_start_on_a_hung_working_directory_is_offloaded(
    fuse_mount: FuseMounts,
) -> None:
    hung = fuse_mount("hung")
    runtime = ProbeRuntime()

    async def offload(start: Spawn) -> subprocess.Popen[bytes]:
        return await runtime.blocking.call(start, resource=hung.path, timeout=1.0)

    started = time.monotonic()
    with pytest.raises(CommandUnavailable, match="could not start true"):
        await LocalRunner(offload).run(
            CommandSpec(argv=("true",), timeout=5, cwd=f"{hung.path}/web")
        )
    assert time.monotonic() - started < 3
    assert hung.path in runtime.blocking.stuck()
    hung.abort()
