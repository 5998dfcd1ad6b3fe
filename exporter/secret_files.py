"""The one reader of files that hold secrets or trust: tokens, passwords, header values, CA
certificates, client certificates and keys, kubeconfigs.

They are read as the config is read (``config_source.read_regular_file``): a regular file only,
opened without blocking, capped, and from async code in a worker thread with a deadline, so a
FIFO, ``/dev/zero`` or a hung mount can neither block the event loop nor fill the memory. An
error names the file and why, never a byte of what it holds.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import anyio.to_thread

from exporter.config_source import FileRefused, read_regular_file

#: A token, password or header value (a bound service account token is about 1 KiB).
MAX_SECRET_BYTES = 64 * 1024
#: A PEM bundle: a CA bundle of every public root is about 220 KiB.
MAX_PEM_BYTES = 1024 * 1024
#: Reading a local file should take microseconds; a file on a hung mount never returns.
READ_TIMEOUT = 5.0


class SecretFileError(OSError):
    """A secret file that cannot be used; one line naming the file, never its contents.

    ``path``, ``missing``, ``errno`` (of the failed open or read, or None) and ``why`` (the
    message without the path) let callers word it (``exporter.failure_text``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        why: str,
        *,
        missing: bool = False,
        number: int | None = None,
    ) -> None:
        super().__init__(f"{path}: {why}")
        self.errno = number
        self.path = os.fspath(path)
        self.why = why
        self.missing = missing


def _refused(path: str | os.PathLike[str], error: FileRefused) -> SecretFileError:
    return SecretFileError(path, str(error), missing=error.missing, number=error.errno)


def read_secret_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_SECRET_BYTES) -> bytes:
    try:
        return read_regular_file(path, max_bytes)
    except FileRefused as error:
        raise _refused(path, error) from None


def read_secret_bytes_or_missing(
    path: str | os.PathLike[str], max_bytes: int = MAX_PEM_BYTES
) -> bytes | None:
    """``read_secret_bytes``, but None for a file that does not exist."""
    try:
        return read_regular_file(path, max_bytes)
    except FileRefused as error:
        if error.missing:
            return None
        raise _refused(path, error) from None


def read_secret_text(path: str | os.PathLike[str], max_bytes: int = MAX_SECRET_BYTES) -> str:
    """The file's UTF-8 text without surrounding whitespace (a trailing newline is common)."""
    data = read_secret_bytes(path, max_bytes)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise SecretFileError(path, f"not UTF-8 text (byte {error.start})") from None


def read_single_line(path: str | os.PathLike[str], what: str) -> str:
    """A secret that goes into a header: one line of visible ASCII, or ``SecretFileError``
    (which never quotes it). httpx refuses a header value holding a newline and its error
    quotes the whole value: a file of many lines would reach every error path whole."""
    text = read_secret_text(path)
    if not text.isascii() or not text.isprintable() or "\n" in text:
        raise SecretFileError(
            path, f"not a {what} (it holds line breaks, controls or non-ASCII characters)"
        )
    return text


async def read_in_thread(path: Path | str, max_bytes: int = MAX_SECRET_BYTES) -> bytes:
    """``read_secret_bytes`` off the event loop, given up after ``READ_TIMEOUT``."""
    try:
        with anyio.fail_after(READ_TIMEOUT):
            data: bytes = await anyio.to_thread.run_sync(
                read_secret_bytes, path, max_bytes, abandon_on_cancel=True
            )
    except TimeoutError:
        message = f"no answer within {READ_TIMEOUT:.0f} s (a hung mount?)"
        raise SecretFileError(path, message) from None
    return data


def read_ca_text(ca_file: str | os.PathLike[str]) -> str:
    """The PEM text of a CA file for ``ssl.create_default_context(cadata=...)``, read through
    this reader (``cafile=`` would let OpenSSL open a FIFO or a device itself)."""
    return read_secret_bytes(ca_file, MAX_PEM_BYTES).decode("ascii", errors="replace")
