"""The spool on disk: order, recovery after a restart or a crash, the bound and its drop order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporter.reports.loki.spool import COMPACTED_HEADER, Spool, SpoolEntry, encode_record


def entry(n: int, report_type: str = "transition") -> SpoolEntry:
    labels = {"job": "site-status", "site": "s", "report_type": report_type}
    return SpoolEntry(labels, 1_700_000_000_000_000_000 + n, f'{{"n":{n},"pad":"{"x" * 200}"}}')


def drain(spool: Spool, batch_bytes: int = 10_000) -> list[int]:
    """Take and commit everything; the ``n`` of each entry, in delivery order."""
    delivered: list[int] = []
    while True:
        batch = spool.take(batch_bytes)
        if not batch:
            return delivered
        delivered += [int(r.entry.line.split(",")[0].split(":")[1]) for r in batch]
        spool.commit(len(batch), {})


def test_pending_reports_survive_a_restart_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    spool.open()
    spool.append([entry(n) for n in range(10)])
    batch = spool.take(2 * len(encode_record(1, entry(0))))
    assert [r.seq for r in batch] == [1, 2]
    spool.commit(len(batch), {"{stream}": 42})
    spool.append([entry(10)])
    # No close: as after a crash (the kernel has the bytes).
    again = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    clock = again.open()
    assert again.pending == 9
    assert clock['{job="site-status",report_type="transition",site="s"}'] == entry(10).timestamp
    assert clock["{stream}"] == 42
    assert drain(again) == list(range(2, 11))
    assert again.pending == 0
    third = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    third.open()
    assert third.pending == 0, "committed reports are never delivered twice"


def test_memory_holds_max_queue_and_the_rest_is_read_back_from_disk(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=5, segment_bytes=1024)
    spool.open()
    for n in range(40):
        spool.append([entry(n)])
    assert len(spool._memory) == 5
    assert spool.pending == 40
    assert len(list(tmp_path.glob("segment-*"))) > 3
    assert drain(spool, batch_bytes=700) == list(range(40))
    assert len(list(tmp_path.glob("segment-*"))) == 1, "delivered segments are deleted"


def test_restart_with_a_backlog_larger_than_memory(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=3, segment_bytes=2048)
    spool.open()
    spool.append([entry(n) for n in range(25)])
    spool.commit(len(spool.take(2 * len(encode_record(1, entry(0))))), {})
    spool.close()
    again = Spool(tmp_path, max_bytes=10 << 20, max_queue=3, segment_bytes=2048)
    again.open()
    assert again.pending == 23
    assert drain(again, batch_bytes=500) == list(range(2, 25))


def test_the_bound_drops_oldest_snapshots_first_and_never_what_is_in_flight(
    tmp_path: Path,
) -> None:
    record = len(encode_record(1, entry(0)))
    spool = Spool(tmp_path, max_bytes=44 * record, max_queue=1000)
    spool.open()
    spool.append([entry(n, "snapshot" if n % 2 else "transition") for n in range(30)])
    in_flight = spool.take(2 * record)
    assert [r.seq for r in in_flight] == [1, 2]
    dropped = spool.append([entry(n, "transition") for n in range(30, 46)])
    assert dropped["spool_full"] > 0
    assert spool.disk_bytes <= 44 * record
    spool.commit(len(in_flight), {})
    left = drain(spool)
    snapshots_left = [n for n in left if n % 2 and n < 30]
    # Snapshots went first, oldest first; every transition is still there.
    assert all(n in left for n in range(30, 46))
    assert all(n in left for n in range(2, 30, 2))
    assert snapshots_left == [n for n in range(1, 30, 2) if n >= 30 - 2 * len(snapshots_left)]
    assert dropped["spool_full"] == 14 - len(snapshots_left)  # n=1 was in flight, delivered
    assert 1 not in left and 0 not in left


def test_when_only_transitions_are_left_the_oldest_go(tmp_path: Path) -> None:
    record = len(encode_record(1, entry(0)))
    spool = Spool(tmp_path, max_bytes=20 * record, max_queue=1000)
    spool.open()
    dropped = spool.append([entry(n) for n in range(20)])
    dropped += spool.append([entry(n) for n in range(20, 25)])
    left = drain(spool)
    assert left == list(range(25 - len(left), 25))
    assert dropped["spool_full"] == 25 - len(left)


def test_a_torn_last_record_and_an_unfinished_compaction_are_ignored(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    spool.open()
    spool.append([entry(n) for n in range(3)])
    spool.close()
    segment = next(tmp_path.glob("segment-*.jsonl"))
    with segment.open("ab") as handle:
        handle.write(encode_record(4, entry(3))[:50])  # the crash cut this write short
    (tmp_path / "segment-000000000099.jsonl.tmp").write_bytes(COMPACTED_HEADER)
    again = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    again.open()
    assert not list(tmp_path.glob("*.tmp"))
    assert drain(again) == [0, 1, 2]


def test_a_finished_compaction_supersedes_older_segments(tmp_path: Path) -> None:
    older = tmp_path / "segment-000000000001.jsonl"
    older.write_bytes(b"".join(encode_record(n + 1, entry(n)) for n in range(5)))
    compacted = tmp_path / "segment-000000000002.jsonl"
    compacted.write_bytes(
        COMPACTED_HEADER + encode_record(2, entry(1)) + encode_record(5, entry(4))
    )
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    spool.open()
    assert not older.exists()
    assert drain(spool) == [1, 4]


def test_an_unusable_directory_keeps_reports_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    spool = Spool(blocker / "spool", max_bytes=10 << 20, max_queue=2)
    spool.open()
    assert spool.disabled
    dropped = spool.append([entry(n) for n in range(3)])
    assert dropped["spool_unavailable"] == 1
    assert drain(spool) == [0, 1]


def test_commit_needs_records_in_flight(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=10)
    spool.open()
    spool.append([entry(0)])
    with pytest.raises(ValueError):
        spool.commit(1, {})


def test_files_it_cannot_read_or_remove_are_named_in_one_line_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Directories where files are expected stand for what another uid's private files are
    (tests/integration/test_spool_takeover.py has those): even root cannot read or unlink
    them as files."""
    first = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    first.open()
    first.append([entry(n) for n in range(3)])
    first.close()
    (tmp_path / "segment-000000000007.jsonl").mkdir()  # unreadable, number 7 is taken
    (tmp_path / "committed.json.tmp").mkdir()  # a leftover that cannot be removed
    (tmp_path / "committed.json.tmp" / "x").touch()
    caplog.set_level("ERROR", logger="exporter.reports.loki.spool")
    spool = Spool(tmp_path, max_bytes=10 << 20, max_queue=100)
    spool.open()
    (line,) = [record.getMessage() for record in caplog.records]
    assert "cannot read segment-000000000007.jsonl (Is a directory)" in line
    assert "cannot remove committed.json.tmp (Is a directory): left in place" in line
    assert not spool.disabled and spool.pending == 3
    spool.append([entry(3)])
    assert (tmp_path / "segment-000000000008.jsonl").exists(), "7 is not reused"
    assert drain(spool) == [0, 1, 2, 3]
    assert (tmp_path / "segment-000000000007.jsonl").is_dir()


def test_spool_files_are_group_writable_whatever_the_umask(tmp_path: Path) -> None:
    """The next pod runs as another uid in the same fsGroup and must take the files over."""
    previous = os.umask(0o022)
    try:
        spool = Spool(tmp_path / "spool", max_bytes=10 << 20, max_queue=100)
        spool.open()
        spool.append([entry(0)])
        spool.commit(len(spool.take(10_000)), {})
        spool.append([entry(1)])
    finally:
        os.umask(previous)
    paths = [tmp_path / "spool", *(tmp_path / "spool").iterdir()]
    assert {p.name for p in paths} >= {"spool", "committed.json"}
    for path in paths:
        assert path.stat().st_mode & 0o060 == 0o060, (path, oct(path.stat().st_mode))
        assert path.stat().st_mode & 0o002 == 0, path
