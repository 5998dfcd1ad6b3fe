"""One signal policy for every command: SIGINT or SIGTERM stops it with one line, no traceback.

Outside an event loop, a signal raises :class:`Interrupted` where the program is (imports, config
parsing, the gate's requests and sleeps), and the console script turns it into one line and an
exit code. Inside one, an exception raised between two callbacks of the loop would leave it
half-run, so a command hands the signal to the loop (:func:`handed_to_loop`): it cancels its work
there, or begins an orderly stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A stop signal arrived. A BaseException, as KeyboardInterrupt: no ``except Exception``
    on the way may take it for an error of its own."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(signum, detail)
        self.signum = signum
        self.detail = detail

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a command ended by a signal (130 SIGINT, 143 SIGTERM)."""
        return 128 + self.signum


_loop_callback: tuple[asyncio.AbstractEventLoop, Callable[[int], None]] | None = None


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _loop_callback is not None:
        loop, callback = _loop_callback
        if not loop.is_closed():
            # As asyncio.Runner does for SIGINT: the loop runs the callback between callbacks.
            loop.call_soon_threadsafe(callback, signum)
            return
    raise Interrupted(signum)


def install() -> None:
    """Put the policy in force for the rest of the process (the console script, first)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)


@contextlib.contextmanager
def handed_to_loop(callback: Callable[[int], None]) -> Iterator[None]:
    """While inside, a stop signal calls ``callback(signum)`` in the running loop, every time
    one arrives; call this from a task of that loop."""
    global _loop_callback
    loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals (an exporter embedded in a thread)
        return
    previous_handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    previous, _loop_callback = _loop_callback, (loop, callback)
    install()  # also when the caller is not the console script (a library user, a test)
    try:
        yield
    finally:
        _loop_callback = previous
        for signum, handler in previous_handlers.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, handler)


async def until_signal(work: Callable[[], Awaitable[object]], detail: str = "") -> None:
    """Await ``work()``; a stop signal cancels it and, once it has unwound, raises
    :class:`Interrupted` (``detail`` says where it was)."""
    import anyio  # here, not at the top: the console script imports this module first

    received: list[int] = []
    with anyio.CancelScope() as scope:

        def stop(signum: int) -> None:
            received.append(signum)
            scope.cancel()

        with handed_to_loop(stop):
            await work()
    if received:
        raise Interrupted(received[0], detail)
