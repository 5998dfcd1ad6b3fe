"""The mount table, read from ``/proc/self/mountinfo`` (never by walking paths)."""

from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Filesystems that hold no data of their own (node_exporter excludes the same kind).
PSEUDO_FSTYPES = frozenset(
    [
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nfsd",
        "nsfs",
        "proc",
        "procfs",
        "pstore",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "sysfs",
        "tracefs",
        "ramfs",
        "rootfs",
    ]
)
#: Filesystems whose calls can hang on a remote peer or a user-space daemon.
NETWORK_FSTYPES = frozenset(
    [
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "afs",
        "9p",
        "davfs",
        "ncpfs",
        "virtiofs",
    ]
)
#: Read-only images: always 100 % full by design.
IMAGE_FSTYPES = frozenset(["squashfs", "iso9660", "udf", "erofs"])

#: The kernel's own trees and what container runtimes mount for their containers: node_exporter's
#: default mount-point excludes (``defMountPointsExcluded`` in collector/filesystem_linux.go:
#: ``^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)``)
#: plus containerd's, k3s's and snap's. ``*`` matches ``/`` too; ``/var/lib/docker`` itself (a
#: disk of its own) is kept, as node_exporter keeps it.
RUNTIME_MOUNTPOINTS = (
    "/dev",
    "/dev/*",
    "/proc",
    "/proc/*",
    "/sys",
    "/sys/*",
    "/run/credentials/*",
    "/var/lib/docker/*",
    "/var/lib/containers/storage/*",
    "/var/lib/containerd/*",
    "/run/containerd/*",
    "/run/k3s/containerd/*",
    "/var/lib/rancher/k3s/agent/containerd/*",
    "/run/docker/*",
    "/run/netns/*",
    "/run/snapd/ns",
    "/run/snapd/ns/*",
    "/snap/*",
    "*/.local/share/containers/storage/*",
)
#: What the kubelet mounts for pods (their volumes, secrets, PV staging): the pods' storage, not
#: the node's (kube-prometheus runs node_exporter with ``var/lib/kubelet/pods/.+`` excluded).
KUBELET_MOUNTPOINTS = ("/var/lib/kubelet/pods/*", "/var/lib/kubelet/plugins/*")
#: Per-user desktop FUSE mounts (gvfs, the document portal): a user's session, not the site's;
#: root usually may not even enter them (no ``allow_other``).
USER_SESSION_MOUNTPOINTS = ("/run/user/*", "/home/*/.gvfs")
USER_SESSION_FSTYPES = ("fuse.gvfsd-fuse", "fuse.gvfs-fuse-daemon", "fuse.portal")


@dataclass(frozen=True, slots=True)
class Mount:
    mountpoint: str
    fstype: str
    source: str
    device: str  # "major:minor"
    root: str
    options: frozenset[str]

    @property
    def read_only(self) -> bool:
        # emergency_ro: ext4 and others after an error (node_exporter reads it the same way)
        return "ro" in self.options or "emergency_ro" in self.options

    @property
    def is_fuse(self) -> bool:
        return self.fstype in ("fuse", "fuseblk") or self.fstype.startswith("fuse.")

    @property
    def is_network_or_fuse(self) -> bool:
        return self.is_fuse or self.fstype in NETWORK_FSTYPES

    @property
    def is_local_storage(self) -> bool:
        """A filesystem that holds local data: not pseudo, not network, not FUSE, not an image."""
        return not (
            self.fstype in PSEUDO_FSTYPES or self.fstype in IMAGE_FSTYPES or self.is_network_or_fuse
        )


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """Mounts in mount order; malformed lines are skipped (the kernel never writes them)."""
    mounts = []
    # The kernel ends lines with "\n" only; a mount point may hold "\r" or other characters
    # that str.splitlines() would split on (util-linux records "/mnt/test/foo\rbar").
    for line in text.split("\n"):
        mount = parse_mountinfo_line(line)
        if mount is not None:
            mounts.append(mount)
    return mounts


def parse_mountinfo_line(line: str) -> Mount | None:
    """One line: ``36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue``.

    Fields are separated by single spaces; after the `` - `` separator the source may be empty
    (``- tmpfs  rw``: two spaces, as util-linux's tests record it), so that part is split on
    each single space.
    """
    head, separator, tail = line.partition(" - ")
    # Single spaces (never other whitespace: "\r" may be part of a name); runs of spaces are
    # tolerated, as procfs' fixtures hold one ("/  /root").
    fields = [field for field in head.split(" ") if field]
    if not separator or len(fields) < 6:
        return None
    after = tail.split(" ", 2)
    if len(after) < 2 or not after[0]:
        return None
    fstype, source = after[0], after[1]
    super_options = after[2].strip() if len(after) > 2 else ""
    options = fields[5]
    return Mount(
        mountpoint=_unescape(fields[4]),
        fstype=fstype,
        source=_unescape(source),
        device=fields[2],
        root=_unescape(fields[3]),
        options=frozenset(options.split(",")) | frozenset(super_options.split(",")),
    )


class MountTable:
    """A parsed mount table; the top-most mount wins where mounts are stacked."""

    def __init__(self, mounts: Iterable[Mount]) -> None:
        self._by_point: dict[str, Mount] = {}
        for mount in mounts:
            self._by_point.pop(mount.mountpoint, None)  # keep mount order for the newest
            self._by_point[mount.mountpoint] = mount

    @classmethod
    def read(cls, path: str | Path = "/proc/self/mountinfo") -> MountTable:
        # Bytes, not text mode: universal newlines would turn a "\r" in a mount point into "\n".
        return cls(parse_mountinfo(Path(path).read_bytes().decode("utf-8", errors="replace")))

    def all(self) -> list[Mount]:
        return list(self._by_point.values())

    def get(self, mountpoint: str) -> Mount | None:
        return self._by_point.get(posixpath.normpath(mountpoint))

    def containing(self, path: str) -> Mount | None:
        """The mount that holds ``path``, by its absolute name (no syscalls on the path)."""
        current = posixpath.normpath(os.path.abspath(path))
        while True:
            mount = self._by_point.get(current)
            if mount is not None:
                return mount
            if current == "/":
                return None
            current = posixpath.dirname(current)

    def select(
        self,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        fstypes: Sequence[str] = (),
        exclude_fstypes: Sequence[str] = (),
    ) -> list[Mount]:
        """Mounts whose mount point and fstype match the glob patterns."""

        return [
            m
            for m in self._by_point.values()
            if (not include or matches_any(m.mountpoint, include))
            and not matches_any(m.mountpoint, exclude)
            and (not fstypes or matches_any(m.fstype, fstypes))
            and not matches_any(m.fstype, exclude_fstypes)
        ]


def matches_any(value: str, patterns: Sequence[str]) -> bool:
    """Whether ``value`` matches one of the glob ``patterns`` (``*`` matches ``/`` too)."""
    return bool(patterns) and globs_regex(tuple(patterns)).match(value) is not None


@functools.lru_cache(maxsize=64)
def globs_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regular expression for a set of globs: a node's 20 000 mounts are each matched once,
    not once per pattern (fnmatch per pattern cost about 0.4 s per 20 000 mounts)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(pattern)})" for pattern in patterns))


def distinct_filesystems(mounts: Iterable[Mount]) -> list[Mount]:
    """One mount per filesystem: bind mounts (``/etc/hosts`` in a pod) share a device."""
    chosen: dict[str, Mount] = {}
    for mount in mounts:
        known = chosen.get(mount.device)
        if known is None or len(mount.mountpoint) < len(known.mountpoint):
            chosen[mount.device] = mount
    return sorted(chosen.values(), key=lambda m: m.mountpoint)
