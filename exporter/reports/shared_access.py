"""Report files and the spool stay usable by the next exporter that shares their group.

In Kubernetes the volume belongs to the pod's ``fsGroup``: its root is group-owned and setgid,
so what the exporter creates there gets that group. A later pod (a rollout, an eviction, a new
image whose user differs) runs under another uid in the same fsGroup, and takes over the spool
only if the files are group-readable and -writable. The container's umask (022) would take the
group's write bit away, so it is put back explicitly here; others' bits follow the umask.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: What the group of a spool or report file may do: read it, replace and remove it.
GROUP_RW = stat.S_IRGRP | stat.S_IWGRP


def open_shared(path: Path, flags: int, mode: int = 0o660) -> int:
    """``os.open`` with ``O_CREAT``: a file this call creates is readable and writable by its
    group whatever the umask (one that existed keeps its mode)."""
    fd = os.open(path, flags | os.O_CREAT, mode)
    try:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and info.st_mode & GROUP_RW != GROUP_RW:
            os.fchmod(fd, stat.S_IMODE(info.st_mode) | GROUP_RW)
    except OSError:
        os.close(fd)
        raise
    return fd


def make_shared_directory(directory: Path) -> None:
    """Create ``directory`` (and its parents) if missing, with group read, write and search
    whatever the umask (a setgid bit inherited from an fsGroup volume stays). One that exists
    is used as it is: its mode is its owner's choice."""
    try:
        directory.mkdir(parents=True)
    except FileExistsError:
        return
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & stat.S_IRWXG != stat.S_IRWXG:
        directory.chmod(mode | stat.S_IRWXG)
