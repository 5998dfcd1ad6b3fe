"""Why a probe is not OK, in a closed vocabulary that Prometheus can carry as a label.

A summary says why in words, but it is unbounded text and never a label. A reason is one word
of this vocabulary, and a part is the bounded name of what failed where one exists (a health
component, a Drupal requirement id, a mount point, a dependency). Alerts name both
(docs/alerts.md), reports keep them (docs/reports.md). A kind that adds a reason adds it here
and to the table in docs/reasons.md, which a test keeps equal to this enum.
"""

from __future__ import annotations

import enum
import re


class Reason(enum.StrEnum):
    """Why a probe is not OK; set by the probe kind, or by the runner and the store."""

    #: The peer, the command or the whole run did not answer within its timeout.
    TIMEOUT = "timeout"
    #: The connection was refused or reset.
    REFUSED = "refused"
    #: The name did not resolve, or the DNS answer was not the expected one.
    DNS = "dns"
    #: Another network error (unreachable, no route, protocol error).
    NETWORK = "network"
    #: The TLS handshake or the certificate's verification failed.
    TLS = "tls"
    #: The certificate expires within its limit.
    CERT_EXPIRY = "cert_expiry"
    #: The HTTP status is not the expected one.
    HTTP_STATUS = "http_status"
    #: The response (or output) did not match, or could not be read.
    BODY = "body"
    #: A component of a health document is down or degraded (part: its name).
    COMPONENT = "component"
    #: The answer came, slower than its limit.
    SLOW = "slow"
    #: A file (or stamp) is older than its limit.
    AGE = "age"
    #: Too small or too large (a file's size).
    SIZE = "size"
    #: Something that must exist does not: a file, a path, a mount.
    MISSING = "missing"
    #: Permission denied.
    DENIED = "denied"
    #: A filesystem is (nearly) full (part: its mount point).
    SPACE = "space"
    #: A filesystem is out of (nearly) inodes (part: its mount point).
    INODES = "inodes"
    #: A filesystem is mounted read-only where it should be writable (part: the mount point).
    READ_ONLY = "read_only"
    #: A filesystem call did not return (part: the mount point).
    HUNG = "hung"
    #: A stale file handle (ESTALE, part: the mount point).
    STALE_HANDLE = "stale_handle"
    #: The load average per CPU is over its limit (a property of the node, not the site).
    LOAD = "load"
    #: drush failed: bootstrap, exit code, or output that is not a report.
    DRUSH = "drush"
    #: A Drupal requirement is a warning or an error (part: its id).
    REQUIREMENT = "requirement"
    #: The probe's latest result is older than 3 intervals (set by the store).
    STALE = "stale"
    #: A dependency is CRITICAL or blocked (part: its probe name; set by the store).
    BLOCKED = "blocked"
    #: The probe has not finished a run yet (set by the store).
    PENDING = "pending"
    #: The probe itself failed (an exception, a bad setting): read its summary.
    ERROR = "error"


#: At most this many characters of a part (a mount point can be long): a label, not a message.
MAX_PART_CHARS = 128
_UNSAFE = re.compile(r"[^\x20-\x7e]+")


def bounded_part(name: str) -> str:
    """``name`` as a label value: printable ASCII on one line, at most 128 characters.

    Parts are names from a bounded set (components of a health document, requirement ids,
    mount points); this only keeps a surprising one from becoming a long or odd label.
    """
    safe = _UNSAFE.sub("_", " ".join(name.split()))
    return safe if len(safe) <= MAX_PART_CHARS else safe[: MAX_PART_CHARS - 1] + "~"
