"""The Node tools of tools/js (installed by scripts/test with ``npm ci``), run as subprocesses."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "js"


def run_node_tool(script: str, payload: Any) -> Any:
    node = shutil.which("node")
    assert node, "node is missing: scripts/test installs nodejs"
    assert (TOOLS / "node_modules").is_dir(), "run `npm ci` in tools/js (scripts/test does)"
    result = subprocess.run(
        [node, str(TOOLS / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def logql_syntax_errors(expressions: list[str]) -> dict[str, str]:
    """Expression -> error, for those Grafana's LogQL grammar does not parse."""
    results = run_node_tool("logql-parse.mjs", expressions)
    return {r["expr"]: r["error"] for r in results if not r["ok"]}


def alertmanagerconfig_errors(documents: list[dict[str, Any]]) -> list[str]:
    errors: list[str] = run_node_tool("validate-alertmanagerconfig.mjs", documents)
    return errors
