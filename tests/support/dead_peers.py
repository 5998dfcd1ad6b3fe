"""Loopback peers that fail the way remote ones do: a closed port (refused at once) and a
blackholed one (the connect never completes), without leaving the machine.

A blackhole on loopback: a listening socket that never accepts, with a backlog of 0 that is
already full. Linux then drops further SYNs (``net.ipv4.tcp_abort_on_overflow`` is 0 by
default), so a connect waits as it would for a host that does not answer.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator


def closed_port() -> int:
    """A loopback port nobody listens on: connecting is refused."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port: int = closed.getsockname()[1]
    return port


@contextlib.contextmanager
def blackholed_port() -> Iterator[int]:
    """A loopback port where a connect never completes (until the caller's timeout)."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port: int = listener.getsockname()[1]
        for _ in range(3):  # more than the queue holds: the rest wait in SYN_SENT
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        time.sleep(0.05)  # the fillers' handshakes reach the queue
        yield port
