"""``kubectl kustomize``: the real kustomize build of k8s/ (kubectl with kustomize v5)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"


def kubectl() -> str:
    """``$KUBECTL``, the venv's (scripts/test installs one there when the machine has none),
    or the one on PATH; it must bundle kustomize v5 (components, labels on templates)."""
    candidates = [
        os.environ.get("KUBECTL"),
        str(Path(sys.executable).parent / "kubectl"),
        shutil.which("kubectl"),
    ]
    for candidate in filter(None, candidates):
        if not Path(candidate).is_file():
            continue
        version = subprocess.run(
            [candidate, "version", "--client"], capture_output=True, text=True, check=False
        ).stdout
        if re.search(r"Kustomize Version: v5\.", version):
            return candidate
    raise AssertionError(
        "no kubectl with kustomize v5: run scripts/test (it installs one into .venv/bin) or "
        "python scripts/install_kubectl.py .venv/bin"
    )


def build(directory: Path) -> str:
    done = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class _Yaml12Loader(yaml.SafeLoader):
    """kustomize writes YAML 1.2, where a bare ``=`` (an AlertmanagerConfig ``matchType``) is a
    string; PyYAML reads YAML 1.1, where it is the ``value`` tag and cannot be constructed."""


_Yaml12Loader.add_constructor(
    "tag:yaml.org,2002:value",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def documents(directory: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(build(directory), Loader=_Yaml12Loader) if doc]
