"""Built-in probe kinds, one module each."""

from __future__ import annotations

from typing import Any

from exporter.probe_api import ProbeKind
from probes import disk, file, load, mount

BUILTIN_KINDS: tuple[ProbeKind[Any], ...] = (disk.KIND, file.KIND, load.KIND, mount.KIND)
