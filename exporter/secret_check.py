"""``validate``: the secret and trust files a config names, checked where validate runs.

A missing token or password file otherwise shows only at run time, as the probe's error. Where
validate runs is not always where the exporter runs (a CI job validating a Kubernetes config does
not see the pod's mounted Secrets): a missing file is said, not an invalid config.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from exporter.config import SiteStatusConfig
from exporter.config_errors import format_path

#: Fields that name a file holding a secret or trust (``password_file``, ``ca_file``, ...).
_FILE_SUFFIX = "_file"


def _named_files(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[str, Path]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            child = getattr(value, name)
            if name.endswith(_FILE_SUFFIX) and isinstance(child, str | Path) and child:
                yield format_path((*path, name)), Path(child)
            else:
                yield from _named_files(child, (*path, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _named_files(item, (*path, index))


def unreadable_secret_files(config: SiteStatusConfig) -> list[str]:
    """One line per secret file of the probes that is missing or unreadable here."""
    lines = []
    for where, path in _named_files(list(config.probes), ("probes",)):
        if not path.exists():
            lines.append(f"{where}: {path} is missing here")
        elif not os.access(path, os.R_OK):
            lines.append(f"{where}: {path} is not readable here")
    return lines
