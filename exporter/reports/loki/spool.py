"""The report queue on disk: append-only segment files and a committed sequence number.

Every report gets a sequence number and is appended, as one JSON line holding its stream
labels, its Loki timestamp and its line, to the newest ``segment-N.jsonl`` before anything
else happens to it. ``committed.json`` holds the highest sequence number that is done with
(delivered, or dropped and counted): it is replaced atomically (write, fsync, rename, fsync
the directory) after each push Loki accepted, *before* the records leave the queue. On start,
everything above it is pending again, in order. Segments whose records are all committed are
deleted.

Memory holds the head of the queue, at most ``max_queue`` records; the rest is read back from
the segments as the head drains (a cursor remembers where). The files never exceed
``max_bytes``: when an append would pass it, the pending records are rewritten into one new
segment (marked ``compacted``) without the oldest snapshots, then, if that is not enough, the
oldest transitions; records being pushed are never dropped. A crash during the rewrite leaves
either the old segments (the ``.tmp`` is ignored) or the compacted one (older segments are
ignored and deleted).

Durability: a record is in the file (the kernel's page cache) when ``append`` returns, so a
crash of the exporter loses nothing; the segment is fsynced at each append, so a crash of the
machine loses nothing either, given a disk that honours fsync.

Not thread-safe by design beyond one lock: the sink calls it from one worker thread at a time.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.reports.episode import Episode
from exporter.reports.shared_access import make_shared_directory, open_shared

log = logging.getLogger(__name__)

COMMITTED_FILE = "committed.json"
SEGMENT_PREFIX = "segment-"
SEGMENT_SUFFIX = ".jsonl"
COMPACTED_HEADER = b'{"compacted":true}\n'
#: Compaction frees space down to this share of ``max_bytes``, so it does not run at every
#: append once the bound is reached.
COMPACT_TO = 0.75


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    """One report ready for Loki: its stream, timestamp (ns), line and structured metadata."""

    labels: dict[str, str]
    timestamp: int
    line: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def report_type(self) -> str:
        return self.labels.get("report_type", "")

    @property
    def stream(self) -> str:
        return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items())) + "}"


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    seq: int
    entry: SpoolEntry
    #: Bytes of its line in the segment file.
    size: int
    #: ``time.monotonic()`` when it was appended (0 for records recovered at start).
    arrived: float = 0.0


@dataclass
class _Segment:
    size: int = 0
    max_seq: int = 0


def encode_record(seq: int, entry: SpoolEntry) -> bytes:
    document: dict[str, Any] = {
        "seq": seq,
        "ts": str(entry.timestamp),
        "labels": entry.labels,
        "line": entry.line,
    }
    if entry.metadata:
        document["meta"] = entry.metadata
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def decode_record(raw: bytes) -> SpoolRecord:
    document = json.loads(raw)
    entry = SpoolEntry(
        labels=dict(document["labels"]),
        timestamp=int(document["ts"]),
        line=str(document["line"]),
        metadata=dict(document.get("meta") or {}),
    )
    return SpoolRecord(int(document["seq"]), entry, len(raw))


class Spool:
    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        max_queue: int,
        segment_bytes: int | None = None,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_queue = max_queue
        #: Segments roll over at this size, so delivered records are deleted in steps.
        self.segment_bytes = segment_bytes or min(max(max_bytes // 8, 64 * 1024), 8 << 20)
        self._lock = threading.Lock()
        self._committed = 0
        self._next_seq = 1
        self._segments: dict[int, _Segment] = {}
        #: Segments left alone: this process cannot read or remove them (another uid's files
        #: without group access); their numbers are never reused.
        self._foreign: set[int] = set()
        self._current: int | None = None
        self._fd: int | None = None
        self._memory: deque[SpoolRecord] = deque()
        #: Pending records on disk that are not in memory yet start at the cursor.
        self._backlog = False
        self._cursor: tuple[int, int] = (0, 0)
        self._in_flight = 0
        self._pending = 0
        self._memory_bytes = 0
        #: The spool directory could not be used: records live in memory only.
        self.disabled = False
        self.disabled_reason = ""
        self.write_errors = 0
        #: Appends (and compactions) failing, e.g. on a full disk: logged once per episode.
        self.writes = Episode(f"report spool {directory}: writing", log)
        #: Recording deliveries (``committed.json``) failing.
        self.commits = Episode(f"report spool {directory}: recording deliveries", log)

    @property
    def failing(self) -> str:
        """Why the spool does not work as it should, or "" when it does."""
        if self.disabled:
            return f"unusable, reports are kept in memory only: {self.disabled_reason}"
        for episode in (self.writes, self.commits):
            if episode.failing:
                return f"{episode.what} failed {episode.failures} time(s): {episode.error}"
        return ""

    # --- reading the state ----------------------------------------------------------------

    @property
    def left_alone(self) -> int:
        """Segment files this process cannot read or remove (named in the log at open)."""
        return len(self._foreign)

    @property
    def pending(self) -> int:
        """Records not yet committed (in memory and on disk)."""
        return self._pending

    @property
    def disk_bytes(self) -> int:
        return sum(segment.size for segment in self._segments.values())

    @property
    def committed(self) -> int:
        return self._committed

    def head_arrived(self) -> float | None:
        """When the oldest record not being pushed was appended, or None if there is none."""
        with self._lock:
            if len(self._memory) > self._in_flight:
                return self._memory[self._in_flight].arrived
            return 0.0 if self._backlog else None

    def pending_bytes_in_memory(self) -> int:
        return self._memory_bytes

    def _remember(self, record: SpoolRecord) -> None:
        self._memory.append(record)
        self._memory_bytes += record.size

    # --- opening and recovery ---------------------------------------------------------------

    def open(self) -> dict[str, int]:
        """Recover pending records; return the spool's clock (last timestamp per stream)."""
        with self._lock:
            try:
                return self._recover()
            except OSError as error:
                self.disabled = True
                self.disabled_reason = str(error)
                log.error(
                    "report spool %s unusable, reports are kept in memory only: %s",
                    self.directory,
                    error,
                )
                return {}

    def _reset(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = self._current = None
        self._segments = {}
        self._foreign = set()
        self._memory = deque()
        self._memory_bytes = self._pending = self._in_flight = 0
        self._backlog = False
        self.disabled = False
        self.disabled_reason = ""

    def _recover(self) -> dict[str, int]:
        self._reset()
        make_shared_directory(self.directory)
        problems = _Problems()
        # A compaction or a commit that did not finish: the old files hold all.
        for leftover in [
            *self.directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}.tmp"),
            self.directory / f"{COMMITTED_FILE}.tmp",
        ]:
            problems.remove(leftover)
        committed, clock = self._read_committed()
        self._committed = committed
        numbers = []
        compacted = []
        for number in self._segment_numbers():
            try:
                if self._is_compacted(number):
                    compacted.append(number)
                numbers.append(number)
            except OSError as error:
                problems.unread.append(f"{self._path(number).name} ({error.strerror})")
                self._foreign.add(number)
        if compacted:  # a finished compaction: everything before it is superseded
            for number in numbers:
                if number < compacted[-1] and not problems.remove(self._path(number)):
                    self._foreign.add(number)
            numbers = [n for n in numbers if n >= compacted[-1]]
        self._segments = {n: _Segment(size=self._path(n).stat().st_size) for n in numbers}
        max_seen = committed
        self._pending = 0
        for record, number, offset in self._scan(numbers[0] if numbers else 0, 0):
            segment = self._segments[number]
            segment.max_seq = max(segment.max_seq, record.seq)
            if record.seq <= max_seen:
                continue  # delivered (or a duplicate of a compacted record)
            max_seen = record.seq
            self._pending += 1
            stream = record.entry.stream
            clock[stream] = max(clock.get(stream, 0), record.entry.timestamp)
            if len(self._memory) < self.max_queue:
                self._remember(record)
            elif not self._backlog:
                self._backlog = True
                self._cursor = (number, offset - record.size)
        self._next_seq = max_seen + 1
        for number, segment in list(self._segments.items()):
            if segment.max_seq <= committed:
                if not problems.remove(self._path(number)):
                    self._foreign.add(number)
                del self._segments[number]
        problems.report(self.directory)
        if self._pending:
            log.info("report spool %s: %d report(s) pending", self.directory, self._pending)
        return clock

    def _read_committed(self) -> tuple[int, dict[str, int]]:
        path = self.directory / COMMITTED_FILE
        try:
            document = json.loads(path.read_bytes())
            return int(document["seq"]), {str(k): int(v) for k, v in document["clock"].items()}
        except FileNotFoundError:
            return 0, {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            # Unreadable: deliver everything again; Loki drops exact duplicates.
            log.error("report spool: %s is unreadable (%s), starting from 0", path, error)
            return 0, {}

    def _segment_numbers(self) -> list[int]:
        numbers = []
        for path in self.directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"):
            digits = path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]
            if digits.isdigit():
                numbers.append(int(digits))
        return sorted(numbers)

    def _path(self, number: int) -> Path:
        return self.directory / f"{SEGMENT_PREFIX}{number:012d}{SEGMENT_SUFFIX}"

    def _next_number(self) -> int:
        return max(self._segments.keys() | self._foreign, default=0) + 1

    def _is_compacted(self, number: int) -> bool:
        with self._path(number).open("rb") as handle:
            return handle.read(len(COMPACTED_HEADER)) == COMPACTED_HEADER

    def _scan(self, first: int, offset: int) -> Iterator[tuple[SpoolRecord, int, int]]:
        """Records from segment ``first`` at ``offset`` on: (record, segment, offset after)."""
        for number in sorted(n for n in self._segments if n >= first):
            position = offset if number == first else 0
            with self._path(number).open("rb") as handle:
                handle.seek(position)
                for raw in handle:
                    position += len(raw)
                    if raw == COMPACTED_HEADER:
                        continue
                    if not raw.endswith(b"\n"):
                        log.warning("report spool: torn record at the end of segment %d", number)
                        break
                    try:
                        record = decode_record(raw)
                    except (ValueError, KeyError, TypeError) as error:
                        log.error("report spool: bad record in segment %d: %s", number, error)
                        continue
                    yield record, number, position

    # --- appending --------------------------------------------------------------------------

    def append(self, entries: Sequence[SpoolEntry]) -> Counter[str]:
        """Store entries at the end of the queue; return what had to be dropped, by reason."""
        now = time.monotonic()
        with self._lock:
            records = []
            for entry in entries:
                raw = encode_record(self._next_seq, entry)
                records.append((SpoolRecord(self._next_seq, entry, len(raw), now), raw))
                self._next_seq += 1
            dropped: Counter[str] = Counter()
            incoming = sum(len(raw) for _, raw in records)
            if not self.disabled and self.disk_bytes + incoming > self.max_bytes:
                kept = self._make_room([record for record, _ in records], dropped)
                records = [(r, raw) for r, raw in records if r.seq in kept]
            if not records:
                return dropped
            positions = self._write([raw for _, raw in records])
            for (record, _), position in zip(records, positions, strict=True):
                self._pending += 1
                if not self._backlog and len(self._memory) < self.max_queue:
                    self._remember(record)
                elif position is not None:
                    if not self._backlog:
                        self._backlog = True
                        self._cursor = position
                else:
                    self._pending -= 1
                    dropped["spool_unavailable"] += 1
            return dropped

    def _write(self, raws: Sequence[bytes]) -> list[tuple[int, int] | None]:
        """Append to the current segment and fsync; each record's (segment, offset) or None
        when it could not be written."""
        if self.disabled:
            return [None] * len(raws)
        try:
            fd, number = self._segment_for_append()
            segment = self._segments[number]
            start = segment.size
            data = b"".join(raws)
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fdatasync(fd)
        except OSError as error:
            self.write_errors += len(raws)
            self.writes.failed(error)
            self._abandon_segment()
            return [None] * len(raws)
        self.writes.succeeded()
        positions: list[tuple[int, int] | None] = []
        offset = start
        for raw in raws:
            positions.append((number, offset))
            offset += len(raw)
        segment.size = offset
        segment.max_seq = self._next_seq - 1
        return positions

    def _segment_for_append(self) -> tuple[int, int]:
        if self._fd is not None and self._current is not None:
            if self._segments[self._current].size < self.segment_bytes:
                return self._fd, self._current
            os.close(self._fd)
            self._fd = None
        number = self._next_number()
        fd = open_shared(self._path(number), os.O_WRONLY | os.O_APPEND)
        _fsync_directory(self.directory)
        self._segments[number] = _Segment()
        self._current, self._fd = number, fd
        return fd, number

    def _abandon_segment(self) -> None:
        """After a failed write: cut a partial line off and start a new segment next time; a
        segment left empty is deleted (a full disk must not fill the directory with them)."""
        if self._fd is None or self._current is None:
            return
        size = self._segments[self._current].size
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, size)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None
        if size == 0:
            with contextlib.suppress(OSError):
                self._path(self._current).unlink()
            del self._segments[self._current]
            self._current = None

    # --- the bound ---------------------------------------------------------------------------

    def _make_room(self, incoming: list[SpoolRecord], dropped: Counter[str]) -> set[int]:
        """Rewrite the pending records into one segment, dropping the oldest snapshots, then the
        oldest transitions, until they fit; return the sequence numbers of incoming kept."""
        pending = self._all_pending()
        in_flight = {record.seq for record in list(self._memory)[: self._in_flight]}
        total = sum(r.size for r in pending) + sum(r.size for r in incoming)
        target = int(self.max_bytes * COMPACT_TO)
        candidates = sorted(
            (r for r in (*pending, *incoming) if r.seq not in in_flight),
            key=lambda r: (r.entry.report_type != "snapshot", r.seq),
        )
        gone: set[int] = set()
        for record in candidates:
            if total <= target:
                break
            gone.add(record.seq)
            total -= record.size
        survivors = [record for record in pending if record.seq not in gone]
        try:
            self._rewrite(survivors)
        except OSError as error:  # nothing dropped: the bound is passed until the next try
            self.writes.failed(f"compaction: {error}")
            return {record.seq for record in incoming}
        if gone:
            dropped["spool_full"] += len(gone)
            log.warning(
                "report spool %s is full (%d bytes): dropped %d report(s), oldest snapshots first",
                self.directory,
                self.max_bytes,
                len(gone),
            )
        self._pending = len(survivors)
        return {record.seq for record in incoming if record.seq not in gone}

    def pending_records(self) -> list[SpoolRecord]:
        """Every pending record, in order (those on disk read back)."""
        with self._lock:
            return self._all_pending()

    def replace_pending(self, records: Sequence[SpoolRecord]) -> None:
        """Keep only ``records`` (pending ones, in order): one compacted segment replaces the
        others atomically."""
        with self._lock:
            self._in_flight = 0
            self._rewrite(records)
            self._pending = len(records)

    def _all_pending(self) -> list[SpoolRecord]:
        records = list(self._memory)
        if self._backlog:
            number, offset = self._cursor
            records += [record for record, _, _ in self._scan(number, offset)]
        return records

    def _rewrite(self, survivors: Sequence[SpoolRecord]) -> None:
        number = self._next_number()
        final = self._path(number)
        temporary = final.with_name(final.name + ".tmp")
        offsets = []
        try:
            with os.fdopen(open_shared(temporary, os.O_WRONLY | os.O_TRUNC), "wb") as handle:
                handle.write(COMPACTED_HEADER)
                offset = len(COMPACTED_HEADER)
                for record in survivors:
                    raw = encode_record(record.seq, record.entry)
                    offsets.append(offset)
                    handle.write(raw)
                    offset += len(raw)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            temporary.unlink(missing_ok=True)  # no half-written copy left behind
            raise
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        os.replace(temporary, final)
        _fsync_directory(self.directory)
        for old in [n for n in self._segments if n < number]:
            self._path(old).unlink(missing_ok=True)
        max_seq = survivors[-1].seq if survivors else self._committed
        self._segments = {number: _Segment(size=offset, max_seq=max_seq)}
        self._current = number
        self._fd = os.open(final, os.O_WRONLY | os.O_APPEND)
        arrived = {record.seq: record.arrived for record in self._memory}
        self._memory = deque()
        self._memory_bytes = 0
        for r in survivors[: self.max_queue]:
            self._remember(SpoolRecord(r.seq, r.entry, r.size, arrived.get(r.seq, r.arrived)))
        self._backlog = len(survivors) > self.max_queue
        if self._backlog:
            self._cursor = (number, offsets[self.max_queue])

    # --- taking and committing ---------------------------------------------------------------

    def take(self, max_bytes: int) -> list[SpoolRecord]:
        """The head of the queue, up to ``max_bytes`` (at least one record), now in flight."""
        with self._lock:
            if not self._memory and self._backlog:
                self._load()
            batch: list[SpoolRecord] = []
            size = 0
            for record in self._memory:
                if batch and size + record.size > max_bytes:
                    break
                batch.append(record)
                size += record.size
            self._in_flight = len(batch)
            return batch

    def commit(self, count: int, clock: dict[str, int]) -> None:
        """The first ``count`` records taken are done with (delivered or dropped): record it on
        disk first, then let them go."""
        with self._lock:
            if count <= 0 or count > self._in_flight:
                raise ValueError(f"commit of {count} records, {self._in_flight} in flight")
            last = self._memory[count - 1].seq
            if not self.disabled:
                try:
                    self._write_committed(last, clock)
                    self.commits.succeeded()
                except OSError as error:
                    # Delivered but not recorded: after a restart they are pushed again, and
                    # Loki drops them as exact duplicates (same stream, timestamp and line).
                    self.commits.failed(error)
            self._committed = last
            for _ in range(count):
                self._memory_bytes -= self._memory.popleft().size
            self._pending -= count
            self._in_flight = 0
            self._delete_delivered_segments()
            if self._backlog and len(self._memory) <= self.max_queue // 2:
                self._load()

    def take_more(self, max_bytes: int) -> list[SpoolRecord]:
        """The records right behind those in flight, up to ``max_bytes`` (at least one), now in
        flight too; empty if there are none."""
        with self._lock:
            if len(self._memory) == self._in_flight and self._backlog:
                self._load()
            batch: list[SpoolRecord] = []
            size = 0
            for index in range(self._in_flight, len(self._memory)):
                record = self._memory[index]
                if batch and size + record.size > max_bytes:
                    break
                batch.append(record)
                size += record.size
            self._in_flight += len(batch)
            return batch

    def release(self, keep: int = 0) -> None:
        """Only the first ``keep`` records stay in flight (a push given up at shutdown, or the
        records behind a failing batch that Loki refused too, stay pending)."""
        with self._lock:
            self._in_flight = min(keep, self._in_flight)

    def _write_committed(self, seq: int, clock: dict[str, int]) -> None:
        path = self.directory / COMMITTED_FILE
        temporary = path.with_name(path.name + ".tmp")
        data = json.dumps({"seq": seq, "clock": clock}, separators=(",", ":")).encode()
        fd = open_shared(temporary, os.O_WRONLY | os.O_TRUNC)
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, "short write", str(temporary))
            os.fsync(fd)
        except OSError:
            os.close(fd)
            temporary.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(temporary, path)
        _fsync_directory(self.directory)

    def _delete_delivered_segments(self) -> None:
        for number, segment in list(self._segments.items()):
            if number != self._current and segment.max_seq <= self._committed:
                try:
                    self._path(number).unlink(missing_ok=True)
                except OSError as error:
                    self._foreign.add(number)
                    log.error(
                        "report spool %s: cannot remove the delivered %s (%s); left in place",
                        self.directory,
                        self._path(number).name,
                        error.strerror,
                    )
                del self._segments[number]
                if self._backlog and self._cursor[0] == number:
                    self._cursor = (min(self._segments, default=number), 0)

    def _load(self) -> None:
        """Read pending records from the cursor into memory, up to ``max_queue``."""
        number, offset = self._cursor
        self._backlog = False
        for record, segment, after in self._scan(number, offset):
            if record.seq <= self._committed:
                continue
            if len(self._memory) >= self.max_queue:
                self._backlog = True
                self._cursor = (segment, after - record.size)
                return
            self._remember(record)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                finally:
                    os.close(self._fd)
                self._fd = None
            self._in_flight = 0


@dataclass
class _Problems:
    """What recovery could not read or remove, said in one line at the end."""

    unread: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def remove(self, path: Path) -> bool:
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            self.kept.append(f"{path.name} ({error.strerror})")
            return False
        return True

    def report(self, directory: Path) -> None:
        parts = []
        if self.unread:
            parts.append(
                f"cannot read {', '.join(self.unread)}: the reports in them are not delivered by "
                "this exporter"
            )
        if self.kept:
            parts.append(f"cannot remove {', '.join(self.kept)}: left in place")
        if parts:
            log.error(
                "report spool %s: %s; the spool's files must be readable and writable by the "
                "exporter's user or group (docs/kubernetes.md)",
                directory,
                "; ".join(parts),
            )


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
