"""A tiny FUSE filesystem for tests: healthy, stale (ESTALE), denied (EACCES) or hung.

Run as its own process: ``python fusefs.py MODE MOUNTPOINT``. The test that starts it must
abort the connection and unmount in teardown (see ``tests/support/fuse_mounts.py``).
"""

from __future__ import annotations

import errno
import stat
import sys
import threading
import time
from typing import Any

from fuse import FUSE, FuseOSError, Operations

HELLO = b"hello\n"


class TestFilesystem(Operations):  # type: ignore[misc]
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.never = threading.Event()
        self.started = time.time()

    def _misbehave(self) -> None:
        if self.mode == "stale":
            raise FuseOSError(errno.ESTALE)
        if self.mode == "denied":
            raise FuseOSError(errno.EACCES)  # a daemon that answers, but not to this user
        if self.mode == "hung":
            self.never.wait()  # the kernel waits for an answer that never comes

    def getattr(self, path: str, fh: Any = None) -> dict[str, Any]:
        if path != "/":
            self._misbehave()
        if path == "/":
            return {
                "st_mode": stat.S_IFDIR | 0o755,
                "st_nlink": 2,
                "st_mtime": self.started,
                "st_ctime": self.started,
                "st_atime": self.started,
            }
        if path == "/hello":
            return {
                "st_mode": stat.S_IFREG | 0o644,
                "st_nlink": 1,
                "st_size": len(HELLO),
                "st_mtime": self.started,
                "st_ctime": self.started,
                "st_atime": self.started,
            }
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path: str, fh: Any) -> list[str]:
        self._misbehave()
        return [".", "..", "hello"]

    def read(self, path: str, size: int, offset: int, fh: Any) -> bytes:
        self._misbehave()
        return HELLO[offset : offset + size]

    def statfs(self, path: str) -> dict[str, int]:
        self._misbehave()
        return {
            "f_bsize": 4096,
            "f_frsize": 4096,
            "f_blocks": 1000,
            "f_bfree": 600,
            "f_bavail": 600,
            "f_files": 100,
            "f_ffree": 90,
            "f_favail": 90,
            "f_namemax": 255,
        }


def main() -> None:
    mode, mountpoint = sys.argv[1], sys.argv[2]
    extra = {"ro": True} if mode == "readonly" else {}
    FUSE(
        TestFilesystem(mode),
        mountpoint,
        foreground=True,
        nothreads=False,
        fsname=f"sitestatus-{mode}",
        **extra,
    )


if __name__ == "__main__":
    main()
