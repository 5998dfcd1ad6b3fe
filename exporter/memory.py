"""glibc malloc settings for a small, long-running process (measured: see docs/benchmarks.md).

Each scrape builds a body of a few hundred KiB. glibc raises its mmap threshold after the first
such buffer is freed, so later ones come from the heap and fragment it; a fixed threshold keeps
large transient buffers in mmap, returned to the system at once. Fewer arenas keep the HTTP
threads from each holding their own. Without glibc (musl, macOS) these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 64 * 1024
ARENA_MAX = 2


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def tune_malloc() -> None:
    """Call once, early, before threads start."""
    libc = _glibc()
    if libc is None:
        return
    ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and libc.mallopt(
        M_ARENA_MAX, ARENA_MAX
    )
    if not ok:
        log.debug("mallopt refused the settings; using glibc defaults")


def release_freed_memory() -> None:
    """Give memory freed by a one-off peak (loading a large config) back to the system, and
    keep what stays (modules, config) out of later garbage collections, which would otherwise
    walk it again and again for nothing."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    gc.freeze()
