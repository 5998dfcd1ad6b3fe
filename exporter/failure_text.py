"""One wording per failure class, whichever kind (or the runner) met the failure.

A person reading a summary should not have to learn each kind's dialect: a refused port reads
the same from an http, a tcp or a drupal probe (through its Kubernetes runner), the target is
always named (``host:port``, the host that did not resolve, the file's path), and durations are
rounded for people (``format_duration``). Each function returns the words and the bounded
reason (exporter/reasons.py) that go with them, so the two cannot disagree. The table of
classes is in docs/reasons.md.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from exporter.blocking import BlockingTimeout, ResourceStuck
from exporter.reasons import Reason
from exporter.units import format_duration

#: asyncio's ``create_connection`` when every address failed, differently: "Multiple exceptions:
#: [Errno 111] Connect call failed ('::1', 80, 0, 0), [Errno 111] Connect call failed (...)".
_MULTIPLE = re.compile(r"Multiple exceptions: ")
_ERRNO = re.compile(r"\[Errno (\d+)\]")

__all__ = [
    "Failure",
    "cannot_connect",
    "cannot_resolve",
    "connection_closed",
    "endpoint",
    "hung",
    "leaf_errors",
    "missing",
    "network_failure",
    "not_readable",
    "secret_file_failed",
    "timed_out",
    "tls_failed",
]


@dataclass(frozen=True, slots=True)
class Failure:
    """A summary line and its reason."""

    text: str
    reason: Reason


def endpoint(host: str, port: int | None) -> str:
    """``db.example:5432``, ``[::1]:443``; the host alone without a port."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def cannot_resolve(host: str, error: BaseException | str) -> Failure:
    """``cannot resolve shop.example: name or service not known``."""
    return Failure(f"cannot resolve {host}: {cause_text(error)}", Reason.DNS)


def cannot_connect(target: str, error: BaseException | str) -> Failure:
    """``cannot connect to db.example:5432: connection refused``: refused (or reset) is
    ``refused``, a connect that timed out in the kernel ``timeout``, the rest ``network``."""
    causes = leaf_errors(error) if isinstance(error, BaseException) else []
    words: list[BaseException | str] = [*causes] or [error]
    text = "; ".join(dict.fromkeys(cause_text(cause) for cause in words))
    reason = Reason.NETWORK
    refusals = ConnectionRefusedError | ConnectionResetError
    if any(isinstance(c, refusals) for c in causes) or "refused" in text.lower():
        reason = Reason.REFUSED
    elif causes and all(isinstance(c, TimeoutError) for c in causes):
        reason = Reason.TIMEOUT
    return Failure(f"cannot connect to {target}: {text}", reason)


def timed_out(seconds: float, doing: str = "", target: str = "") -> Failure:
    """``timed out after 5s connecting to db.example:5432``; without a target, the run's own:
    ``timed out after 10s``."""
    text = f"timed out after {format_duration(seconds)}"
    for word in (doing, target):
        text += f" {word}" if word else ""
    return Failure(text, Reason.TIMEOUT)


def tls_failed(target: str, error: BaseException | str) -> Failure:
    """``TLS handshake with shop.example:443 failed: certificate has expired``."""
    return Failure(f"TLS handshake with {target} failed: {tls_cause(error)}", Reason.TLS)


def connection_closed(target: str, when: str, error: BaseException | None = None) -> Failure:
    """``connection to shop.example:443 closed before the answer``: ``refused`` if the peer
    reset it, else ``network``."""
    text = f"connection to {target} closed {when}"
    if error is None:
        return Failure(text, Reason.NETWORK)
    causes = leaf_errors(error)
    reset = any(isinstance(c, ConnectionResetError) for c in causes)
    detail = "; ".join(dict.fromkeys(cause_text(c) for c in causes))
    return Failure(f"{text}: {detail}", Reason.REFUSED if reset else Reason.NETWORK)


def missing(path: str | os.PathLike[str], what: str = "") -> Failure:
    """``/data/forecast.nc is missing``, ``secret file /run/secrets/token is missing``."""
    return Failure(f"{_subject(path, what)} is missing", Reason.MISSING)


def not_readable(path: str | os.PathLike[str], what: str = "") -> Failure:
    """``/data/private cannot be read: permission denied``."""
    return Failure(f"{_subject(path, what)} cannot be read: permission denied", Reason.DENIED)


def secret_file_failed(path: str | os.PathLike[str], error: BaseException | str = "") -> Failure:
    """``secret file /run/secrets/token is missing`` (``missing``), ``... cannot be read:
    permission denied`` (``denied``), ``... cannot be used: not a regular file (a FIFO)``."""
    number = getattr(error, "errno", None)
    if getattr(error, "missing", False) or number == errno.ENOENT:
        return missing(path, "secret file")
    if number in (errno.EACCES, errno.EPERM):
        return not_readable(path, "secret file")
    why = getattr(error, "why", None) or cause_text(error) or "unusable"
    return Failure(f"{_subject(path, 'secret file')} cannot be used: {why}", Reason.ERROR)


def hung(
    error: BlockingTimeout | ResourceStuck,
    timeout: float | None = None,
    name_resource: bool = False,
) -> Failure:
    """``hung: no answer within 5s`` (``timeout``: the probe's, which the call's own deadline
    comes a little before); with a call still waiting since an earlier run, ``hung: an earlier
    call has not returned for 3m``. ``name_resource`` where the summary names something else
    first (a file on that mount): ``hung: no answer from /mnt/nfs within 5s``."""
    resource = error.resource if name_resource else None
    if isinstance(error, ResourceStuck):
        on = f" on {resource}" if resource else ""
        text = f"hung: an earlier call{on} has not returned for {error.stuck_for()}"
    else:
        source = f" from {resource}" if resource else ""
        within = format_duration(error.timeout if timeout is None else timeout)
        text = f"hung: no answer{source} within {within}"
    return Failure(text, Reason.HUNG)


def _subject(path: str | os.PathLike[str], what: str) -> str:
    shown = str(PurePath(path))
    return f"{what} {shown}" if what else shown


def network_failure(host: str, port: int | None, error: BaseException) -> Failure:
    """Any failure to reach ``host:port``, by its innermost causes: a name that did not
    resolve, a TLS handshake, else the connect itself."""
    causes = leaf_errors(error)
    ssl_error = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if ssl_error is not None:
        return tls_failed(endpoint(host, port), ssl_error)
    unresolved = next((c for c in causes if isinstance(c, socket.gaierror)), None)
    if unresolved is not None:
        return cannot_resolve(host, unresolved)
    return cannot_connect(endpoint(host, port), error)


def leaf_errors(error: BaseException) -> list[BaseException]:
    """The innermost errors behind ``error``: through ``__cause__``/``__context__`` chains and
    exception groups (anyio tries each address and raises "All connection attempts failed"
    from a group of the attempts' errors)."""
    return list(dict.fromkeys(_leaves(error, set())))


def _leaves(error: BaseException, seen: set[int]) -> Iterator[BaseException]:
    if id(error) in seen:
        return
    seen.add(id(error))
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner, seen)
        return
    below = error.__cause__ or error.__context__
    if below is None:
        yield error
    else:
        yield from _leaves(below, seen)


def cause_text(error: BaseException | str) -> str:
    """``connection refused`` from ``[Errno 111] Connect call failed (...)``: the system's
    words for the error number (asyncio's strerror names the call, not the failure)."""
    if isinstance(error, str):
        text = error
    elif isinstance(error, OSError) and _MULTIPLE.match(str(error)):
        numbers = dict.fromkeys(int(n) for n in _ERRNO.findall(str(error)))
        return "; ".join(cause_text(os.strerror(n)) for n in numbers) or str(error)
    elif isinstance(error, OSError) and error.errno and not isinstance(error, socket.gaierror):
        text = os.strerror(error.errno)
    elif isinstance(error, OSError) and error.strerror:
        text = error.strerror
    else:
        text = str(error) or type(error).__name__
    # "Connection refused" reads on in a sentence; "IP address mismatch" keeps its acronym.
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def tls_cause(error: BaseException | str) -> str:
    """``certificate has expired``, ``self-signed certificate``, ``wrong version number``."""
    if isinstance(error, ssl.SSLCertVerificationError):
        # "Hostname mismatch, certificate is not valid for 'x'." ends a sentence of its own.
        return cause_text(error.verify_message or error.reason or str(error)).rstrip(".")
    if isinstance(error, ssl.SSLError):
        reason = error.reason
        return cause_text(reason.replace("_", " ").lower() if reason else str(error))
    return cause_text(error)
