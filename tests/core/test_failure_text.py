"""The failure wording's corners that the kinds' real failures (tests/probes/
test_failure_wording.py) do not reach on this machine: several addresses failing at once, an
IPv6 target, a secret file that is not a regular file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from exporter.failure_text import cannot_connect, endpoint, secret_file_failed, timed_out
from exporter.reasons import Reason
from exporter.secret_files import SecretFileError, read_secret_bytes


def test_every_address_failing_differently_reads_as_the_system_reasons() -> None:
    # asyncio's create_connection, when each address of a name failed with its own message
    # (Lib/asyncio/base_events.py, "Raise a combined exception"): localhost with ::1 and
    # 127.0.0.1, the first not configured, the second closed.
    error = OSError(
        "Multiple exceptions: [Errno 99] Cannot assign requested address ('::1', 80, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 80)"
    )
    failure = cannot_connect(endpoint("localhost", 80), error)
    assert failure.text == (
        "cannot connect to localhost:80: cannot assign requested address; connection refused"
    )
    assert failure.reason is Reason.REFUSED


def test_an_ipv6_target_is_bracketed() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('::1', 5432)")
    failure = cannot_connect(endpoint("::1", 5432), refused)
    assert failure.text == "cannot connect to [::1]:5432: connection refused"
    assert endpoint("db.example", None) == "db.example"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "timed out after 10s"), (0.25, "timed out after 0.25s"), (118.4, "timed out after 118s")],
)
def test_the_runner_timeout_names_no_target(seconds: float, text: str) -> None:
    assert timed_out(seconds) == timed_out(seconds, "", "")
    assert timed_out(seconds).text == text


def test_a_fifo_as_secret_file_cannot_be_used(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    with pytest.raises(SecretFileError) as raised:
        read_secret_bytes(fifo)
    failure = secret_file_failed(raised.value.path, raised.value)
    assert failure.text == f"secret file {fifo} cannot be used: not a regular file (a FIFO)"
    assert failure.reason is Reason.ERROR
    with pytest.raises(SecretFileError) as gone:
        read_secret_bytes(tmp_path / "gone")
    assert secret_file_failed(gone.value.path, gone.value).reason is Reason.MISSING
