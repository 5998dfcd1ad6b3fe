"""Reading the config file: a regular file, of bounded size, in UTF-8.

``/dev/zero`` would read without end and a FIFO would block the reader (and, on reload, the
event loop): the file is opened without blocking and refused unless it is a regular file.
"""

from __future__ import annotations

import errno
import os
import stat

from exporter.config_errors import ConfigError

#: A config of 500 probes is about 100 KiB; anything this large is not a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class ConfigSourceError(Exception):
    """The file cannot be used as a config; the error says why in one line."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def read_config_text(path: str | os.PathLike[str], max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """The file's text, or ``ConfigSourceError``: not a regular file, too large, not UTF-8."""
    data = read_config_bytes(path, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigSourceError(
            ConfigError("", f"not UTF-8 text: invalid byte at column {column}", line)
        ) from None


def read_config_bytes(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    try:
        return read_regular_file(path, max_bytes)
    except FileRefused as error:
        reason = _too_large(max_bytes) if error.too_large else str(error)
        raise ConfigSourceError(ConfigError("", reason)) from None


class FileRefused(OSError):
    """A file that is not read: the message says why in one line, never what it holds."""

    def __init__(
        self, reason: str, too_large: bool = False, missing: bool = False, number: int | None = None
    ) -> None:
        super().__init__(reason)
        #: The error number of the failed open or read (``EACCES``), None for a refusal of ours.
        self.errno = number
        self.too_large = too_large
        #: No such file (a kubeconfig list skips those, as kubectl does).
        self.missing = missing


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, or ``FileRefused``.

    Opened without blocking (a FIFO would wait for a writer) and refused unless a regular file
    (``/dev/zero`` reads without end); read to the cap even if it grows meanwhile.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        missing = error.errno == errno.ENOENT
        reason = f"cannot read: {error.strerror}"
        raise FileRefused(reason, missing=missing, number=error.errno) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"not a regular file ({_file_type(info)})")
        if info.st_size > max_bytes:
            raise FileRefused(f"larger than {max_bytes} bytes", too_large=True)
        chunks, size = [], 0
        while size <= max_bytes:  # the file may grow while we read it
            chunk = os.read(fd, min(1024 * 1024, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise FileRefused(f"larger than {max_bytes} bytes", too_large=True)
        return b"".join(chunks)
    except FileRefused:
        raise
    except OSError as error:
        raise FileRefused(f"cannot read: {error.strerror}", number=error.errno) from None
    finally:
        os.close(fd)


def _too_large(max_bytes: int) -> str:
    return f"larger than {max_bytes // (1024 * 1024)} MiB: not a config"


def _file_type(info: os.stat_result) -> str:
    mode = info.st_mode
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"
