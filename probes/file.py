"""The ``file`` probe kind: a file (or the newest of a glob or directory) exists, fresh, sized.

``path`` is one path, a glob pattern (when it has ``*``, ``?`` or ``[``) or a directory (then its
newest entry, not recursive). All filesystem work for one run happens in one blocking call on the
mount that holds the path, so a hung mount costs one stuck thread, not one per file.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import posixpath
import re
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from exporter.blocking import BlockingTimeout, ResourceStuck
from exporter.failure_text import hung, missing, not_readable
from exporter.probe_api import (
    AbsolutePath,
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Reason,
    Result,
    Sample,
)
from exporter.status import Status, worst
from exporter.thresholds import DurationLimits, Limits, MinSizeLimits, SizeLimits
from exporter.units import format_duration, format_size
from probes.deadline import blocking_within

AGE = MetricFamily("site_status_file_age_seconds", "Age of the file's mtime (newest match).")
SIZE = MetricFamily("site_status_file_size_bytes", "Size of the file (newest match).")
MATCHES = MetricFamily(
    "site_status_file_matches",
    "Glob matches or directory entries found (only for globs and directories).",
)

_MAGIC = re.compile(r"[*?[]")
#: Errors that mean "this name does not exist" rather than "the filesystem failed".
_MISSING_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR})


class FileProbe(ProbeConfig):
    """A file that must exist, and optionally be recent enough and of a sane size."""

    kind: Literal["file"]
    path: AbsolutePath
    max_age: DurationLimits | None = None
    min_size: MinSizeLimits | None = None
    max_size: SizeLimits | None = None
    allow_missing: bool = False


class MissingDirectory(Exception):
    """The directory part of a glob does not exist: nothing can match (missing, not an error)."""

    def __init__(self, directory: str, reason: str) -> None:
        self.directory = directory
        self.reason = reason
        super().__init__(f"{directory} {reason}")


class BrokenSymlink(Exception):
    def __init__(self, path: str, target: str) -> None:
        self.path = path
        self.target = target
        super().__init__(f"broken symlink {path} -> {target}")


@dataclass(frozen=True, slots=True)
class Lookup:
    """What one look at the filesystem found: how many matched, and the newest one."""

    shape: Literal["file", "glob", "directory"]
    count: int
    newest: str | None = None
    stat: os.stat_result | None = None
    #: Why the fixed directory of a glob cannot hold matches (``/data does not exist``).
    missing_directory: str | None = None

    @property
    def noun(self) -> str:
        """``matches``/``entries``, for summaries."""
        if self.shape == "glob":
            return "match" if self.count == 1 else "matches"
        return "entry" if self.count == 1 else "entries"


# --- the blocking part: runs in one worker thread per probe run -------------------------------


def look(path: str) -> Lookup:
    """The file, glob matches or directory entries at ``path``; raises OSError/BrokenSymlink."""
    if has_glob_magic(path):
        try:
            return newest_of("glob", glob_matches(path))
        except MissingDirectory as absent:
            return Lookup("glob", 0, missing_directory=str(absent))
    try:
        found = Path(path).stat()
    except OSError as error:
        if error.errno in _MISSING_ERRNOS:
            raise_if_broken_symlink(path)
            return Lookup("file", 0)
        raise
    if stat.S_ISDIR(found.st_mode):
        with os.scandir(path) as entries:
            return newest_of("directory", [entry.path for entry in entries])
    return Lookup("file", 1, path, found)


def has_glob_magic(path: str) -> bool:
    return _MAGIC.search(path) is not None


def raise_if_broken_symlink(path: str) -> None:
    """Raise ``BrokenSymlink`` if ``path`` is a symlink whose target does not exist."""
    try:
        link = Path(path).lstat()
    except OSError as error:
        if error.errno in _MISSING_ERRNOS:
            return
        raise
    if stat.S_ISLNK(link.st_mode):
        raise BrokenSymlink(path, str(Path(path).readlink()))


def glob_matches(pattern: str) -> list[str]:
    """Paths matching ``pattern``, like ``glob.glob``, but errors on the fixed directory surface.

    ``glob.glob`` hides every ``OSError``: a stale or unreadable directory would look like "no
    match". Here the directory part without wildcards is listed directly, so its errors raise;
    directories reached through a wildcard are skipped when unreadable, as glob does.
    """
    directory, name_pattern = posixpath.split(pattern)
    if has_glob_magic(directory):
        # glob.glob takes an absolute pattern as it is; Path.glob does not
        directories = [d for d in glob.glob(directory) if Path(d).is_dir()]
        return [m for d in directories for m in names_matching(d, name_pattern, strict=False)]
    return names_matching(directory, name_pattern, strict=True)


def names_matching(directory: str, name_pattern: str, *, strict: bool) -> list[str]:
    """Entries of ``directory`` matching one glob component (hidden only if asked for)."""
    if not has_glob_magic(name_pattern):
        candidate = posixpath.join(directory, name_pattern)
        return [candidate] if lexists(candidate) else []
    show_hidden = name_pattern.startswith(".")
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if show_hidden or not e.name.startswith(".")]
    except OSError as error:
        if strict and error.errno in _MISSING_ERRNOS:
            reason = "is not a directory" if error.errno == errno.ENOTDIR else "does not exist"
            raise MissingDirectory(directory, reason) from error
        if strict:
            raise
        return []
    return [posixpath.join(directory, n) for n in fnmatch.filter(names, name_pattern)]


def lexists(path: str) -> bool:
    """Whether ``path`` exists as a name, even as a broken symlink."""
    try:
        Path(path).lstat()
    except OSError:
        return False
    return True


def newest_of(shape: Literal["glob", "directory"], paths: list[str]) -> Lookup:
    """The most recently modified of ``paths``; vanished entries and broken links are skipped."""
    newest: tuple[str, os.stat_result] | None = None
    for path in paths:
        try:
            found = Path(path).stat()
        except OSError as error:
            if error.errno in _MISSING_ERRNOS or error.errno == errno.ELOOP:
                continue
            raise
        if newest is None or found.st_mtime > newest[1].st_mtime:
            newest = (path, found)
    if newest is None:
        return Lookup(shape, len(paths))
    return Lookup(shape, len(paths), newest[0], newest[1])


# --- the async part: grading ------------------------------------------------------------------


async def run(config: FileProbe, context: ProbeContext) -> Result:
    mount = context.mounts().containing(config.path)
    resource = mount.mountpoint if mount is not None else None
    try:
        lookup = await blocking_within(context, look, config.path, resource=resource)
    except (BlockingTimeout, ResourceStuck) as error:
        failure = hung(error, context.timeout, name_resource=True)
        return Result(
            Status.UNKNOWN,
            f"{config.path}: {failure.text}",
            {"path": config.path, "mount": resource},
            reason=failure.reason,
            part=resource or "",
        )
    except BrokenSymlink as error:
        details = {"path": config.path, "target": error.target}
        return Result(Status.CRITICAL, str(error), details, reason=Reason.MISSING)
    except OSError as error:
        return failed_result(config.path, error)
    if lookup.newest is None or lookup.stat is None:
        return missing_result(config, lookup)
    return graded_result(config, lookup, lookup.newest, lookup.stat)


def failed_result(path: str, error: OSError) -> Result:
    """A filesystem error: a symlink loop is CRITICAL, anything else UNKNOWN."""
    where = os.fsdecode(error.filename) if error.filename is not None else path
    details = {"path": path, "errno": errno.errorcode.get(error.errno or 0, str(error.errno))}
    if error.errno == errno.ELOOP:
        return Result(Status.CRITICAL, f"symlink loop at {where}", details, reason=Reason.MISSING)
    if error.errno in (errno.EACCES, errno.EPERM):
        denied = not_readable(where)
        return Result(Status.UNKNOWN, denied.text, details, reason=denied.reason)
    reason = Reason.STALE_HANDLE if error.errno == errno.ESTALE else Reason.ERROR
    return Result(Status.UNKNOWN, f"{where}: {error.strerror or error}", details, reason=reason)


def missing_result(config: FileProbe, lookup: Lookup) -> Result:
    """Nothing to grade: no file, no glob match, an empty directory (or only broken links)."""
    details = {"path": config.path, "count": lookup.count, "allow_missing": config.allow_missing}
    samples = match_samples(lookup)
    if config.allow_missing:
        return Result(Status.OK, f"{config.path} absent (allowed)", details, samples)
    summary = missing_summary(config.path, lookup)
    return Result(Status.CRITICAL, summary, details, samples, reason=Reason.MISSING)


def missing_summary(path: str, lookup: Lookup) -> str:
    if lookup.count:
        return f"{path}: none of {lookup.count} {lookup.noun} exists (broken links?)"
    if lookup.shape == "glob" and lookup.missing_directory is not None:
        return f"no file matches {path} ({lookup.missing_directory})"
    if lookup.shape == "glob":
        return f"no file matches {path}"
    if lookup.shape == "directory":
        return f"{path} is empty"
    return missing(path).text


def graded_result(config: FileProbe, lookup: Lookup, matched: str, found: os.stat_result) -> Result:
    """The newest file graded on age and size."""
    age = max(0.0, time.time() - found.st_mtime)
    size = float(found.st_size)
    age_status, age_text = graded(config.max_age, age, f"{format_duration(age)} old")
    size_statuses = [
        graded(limits, size, format_size(size)) for limits in (config.min_size, config.max_size)
    ]
    size_status = worst(s for s, _ in size_statuses)
    size_text = next((t for s, t in size_statuses if s is size_status), format_size(size))
    parts = [age_text]
    if size_status is not Status.OK or config.min_size or config.max_size:
        parts.append(size_text)
    summary = f"{subject(config.path, lookup, matched)} is {', '.join(parts)}"
    details: dict[str, Any] = {
        "path": config.path,
        "matched": matched,
        "count": lookup.count,
        "age_seconds": round(age, 3),
        "size_bytes": found.st_size,
        "mtime": datetime.fromtimestamp(found.st_mtime, UTC).isoformat(),
    }
    samples = (Sample(AGE.name, age), Sample(SIZE.name, size), *match_samples(lookup))
    status = worst([age_status, size_status])
    reason = Reason.AGE if age_status is status else Reason.SIZE
    return Result(status, summary, details, samples, reason=reason)


def match_samples(lookup: Lookup) -> tuple[Sample, ...]:
    """The match count, where there can be more than one (a single file says 0/1 by status)."""
    if lookup.shape == "file":
        return ()
    return (Sample(MATCHES.name, float(lookup.count)),)


def graded(limits: Limits | None, value: float, text: str) -> tuple[Status, str]:
    """The status of ``value`` and its text, with the limit it broke: ``7h old (max 6h)``."""
    if limits is None:
        return Status.OK, text
    status = limits.grade(value)
    if status is Status.OK:
        return status, text
    return status, f"{text} ({limits.describe(status)})"


def subject(path: str, lookup: Lookup, matched: str) -> str:
    """What the summary talks about: the file, or the newest of several."""
    if lookup.shape == "file":
        return matched
    return f"{matched} (newest of {lookup.count} {lookup.noun})"


KIND = ProbeKind(config=FileProbe, run=run, metrics=(AGE, SIZE, MATCHES))
