"""The queries of the generated dashboards, and Grafana's variable interpolation for tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    datasource: str  # prometheus | loki
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in document.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries() -> list[Query]:
    found = []
    for name, document in dashboards().items():
        for panel in panels(document):
            for target in panel.get("targets", []):
                found.append(
                    Query(name, panel["title"], target["datasource"]["type"], target["expr"])
                )
    return found


def interpolate(expr: str, values: dict[str, str], rate_interval: str = "1m") -> str:
    """Grafana's substitution of ``$var`` / ``${var}`` and the built-in intervals."""
    builtins = {
        "__rate_interval": rate_interval,
        "__interval": "15s",
        "__range": "5m",
        "__auto": "15s",
    }
    merged = {**builtins, **values}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in merged:
            raise KeyError(f"no value for variable ${name} in {expr!r}")
        return merged[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


def all_of(values: list[str]) -> str:
    """Grafana's value of a multi-value variable set to All (no custom all value) in a PromQL
    regex matcher: every option, regex-escaped, joined as an alternation (its
    prometheusSpecialRegexEscape: each special character gets a backslash, written ``\\\\``
    inside the PromQL string)."""
    escaped = [
        re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), v.replace("\\", "\\\\\\\\"))
        for v in values
    ]
    return escaped[0] if len(escaped) == 1 else f"({'|'.join(escaped)})"
