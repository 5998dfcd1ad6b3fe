"""Built-in probe kinds, one module each."""

from __future__ import annotations

from typing import Any

from exporter.probe_api import ProbeKind
from probes import disk, dns, file, http, load, mount, tcp

BUILTIN_KINDS: tuple[ProbeKind[Any], ...] = (
    disk.KIND,
    dns.KIND,
    file.KIND,
    http.KIND,
    load.KIND,
    mount.KIND,
    tcp.KIND,
)
