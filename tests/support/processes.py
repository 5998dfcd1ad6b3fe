"""Reading the process table from /proc: is a process there, and in which state."""

from __future__ import annotations

import os
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, or None if there is no process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rpartition(")")[2].split()


def process_state(pid: int) -> str | None:
    """``R``, ``S``, ``D``, ``Z``...; None when no such process exists (reaped or never was)."""
    fields = stat_fields(pid)
    return fields[0] if fields else None


def alive_in_group(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` that are not zombies."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = stat_fields(int(entry))
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry))
    return alive
