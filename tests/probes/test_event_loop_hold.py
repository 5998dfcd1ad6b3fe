"""No CPU-bound work on outside input holds the event loop: drush output at its cap, deeply
nested JSON, a node's 20 000 mounts.

A ticker task sleeps 1 ms at a time on the event loop while a real probe runs through the real
runner. Between two of its wake-ups, the CPU time the event loop's thread spent is work done on
the loop (``time.thread_time``: a thread the operating system did not run, or one waiting for
the GIL, spends none), so the bound holds on a loaded machine too: at most ``CPU_BOUND``. The
wall-clock gaps are bounded loosely as well (``WALL_BOUND``), which catches a worker thread
holding the GIL in one long C call; a gap counts only as long as the process ran (its CPU time,
all threads), since a loaded machine that does not run it for a second holds nothing. Before
the work moved to worker threads these inputs held the loop 0.41 s (4 MiB of requirements),
0.8 s (4 MiB of integers), 6.9 s (4 MiB of small objects, with the decoder's hooks), 1.9 s
(4 MiB of ``{"x": 1}`` lines, before the candidates were bounded) and 0.19 s plus 0.4 s
(parsing and matching 20 000 mounts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import anyio
import pytest

from exporter.context import ProbeRuntime
from exporter.probe_api import ProbeConfig, Status
from exporter.registry import default_registry
from exporter.run_stats import RunStats
from exporter.scheduler import ProbeRunner
from probes.drupal import probe as drupal

T = TypeVar("T")
DRUSH = str(Path(__file__).parent.parent / "support" / "drush")
CAP = 4 * 1024 * 1024
#: CPU the loop's thread may spend between two wake-ups of the ticker.
CPU_BOUND = 0.050
#: Gap allowed between two wake-ups while the process ran: loose; a GIL held for a whole 4 MiB
#: decode is not.
WALL_BOUND = 1.0


@dataclass
class Holds:
    cpu: float = 0.0
    wall: float = 0.0

    def check(self, what: str) -> None:
        assert self.cpu < CPU_BOUND, f"{what}: {self.cpu * 1000:.0f} ms of CPU on the loop"
        assert self.wall < WALL_BOUND, f"{what}: the loop waited {self.wall * 1000:.0f} ms"


async def worst_hold_during(work: Callable[[], Awaitable[T]]) -> tuple[T, Holds]:
    """``work()``'s answer, and the longest the event loop was held while it ran."""
    holds = Holds()
    finished = anyio.Event()

    async def tick() -> None:
        while not finished.is_set():
            wall, cpu, ran = time.perf_counter(), time.thread_time(), time.process_time()
            await anyio.sleep(0.001)
            holds.cpu = max(holds.cpu, time.thread_time() - cpu)
            gap = min(time.perf_counter() - wall, time.process_time() - ran)
            holds.wall = max(holds.wall, gap - 0.001)

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        await anyio.sleep(0.01)
        try:
            answer = await work()
        finally:
            finished.set()
    return answer, holds


def requirements_at_the_cap() -> bytes:
    """A valid requirements object just under the output cap (about 5 000 rows)."""
    row = {
        "title": "Requirement <em>n</em>",
        "value": "v" * 200,
        "description": "<p>" + "d" * 400 + " &amp; more</p>",
        "sid": 1,
        "severity": "Warning",
    }
    count = CAP // (len(json.dumps(row, indent=4)) + 60)
    rows = {f"requirement_{n}": row for n in range(count)}
    document = json.dumps(rows, indent=4).encode()
    assert len(document) < CAP
    return document


SHAPES: dict[str, Callable[[], bytes]] = {
    "requirements at the cap": requirements_at_the_cap,
    "cut at the cap": lambda: json.dumps({"x": ["y" * 100] * 60_000}).encode()[:CAP],
    "nested arrays": lambda: b"[" * CAP,
    "nested objects": lambda: b'{"a":' * (CAP // 5),
    "object lines": lambda: b'{"x": 1}\n' * (CAP // 9),
    "small objects": lambda: json.dumps([{"a": 1}] * (CAP // 9)).encode(),
    "integers": lambda: json.dumps([1] * (CAP // 3)).encode(),
    "strings": lambda: json.dumps(["xxxxxxxxxx"] * (CAP // 14)).encode(),
}


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_drush_output_at_its_cap_never_holds_the_loop(tmp_path: Path, shape: str) -> None:
    stdout = tmp_path / "stdout"
    stdout.write_bytes(SHAPES[shape]())
    config = drupal.DrupalProbe.model_validate(
        {
            "name": "site",
            "kind": "drupal",
            "drush": DRUSH,
            "env": {"DRUSH_STANDIN_REQUIREMENTS": str(stdout)},
            "status_interval": 0,
        }
    )
    runner = ProbeRunner(default_registry(), ProbeRuntime(), RunStats())
    (result, _), holds = await worst_hold_during(lambda: runner.run(config, 60.0))
    holds.check(shape)
    # A graded result or a clear reason; never the runner's "probe error".
    assert not result.summary.startswith("probe error"), result.summary
    assert result.status is (
        Status.WARNING if shape == "requirements at the cap" else Status.CRITICAL
    )


async def test_twenty_thousand_mounts_never_hold_the_loop(tmp_path: Path) -> None:
    lines = ["29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw"]
    lines += [
        f"{100 + n} 29 0:{300 + n} / /var/lib/kubelet/pods/{n:08x}-aaaa-bbbb-cccc-dddddddddddd/"
        f"volumes/kubernetes.io~projected/kube-api-access-{n:05d} rw,relatime shared:{n} - "
        "tmpfs tmpfs rw,size=3944k,inode64"
        for n in range(20_000)
    ]
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text("\n".join(lines) + "\n")
    registry = default_registry()
    runner = ProbeRunner(registry, ProbeRuntime.with_roots(str(proc)), RunStats())
    for fields in ({"kind": "disk"}, {"kind": "mount"}):
        config: ProbeConfig = registry.get(fields["kind"]).config.model_validate(
            {"name": "p", **fields}
        )
        (result, _), holds = await worst_hold_during(partial(runner.run, config, 30.0))
        holds.check(str(fields))
        assert result.status is Status.OK, result.summary
