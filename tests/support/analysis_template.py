"""The Argo Rollouts AnalysisTemplate ``site-status-prometheus``'s query, with its arguments
substituted as Argo Rollouts substitutes ``{{args.NAME}}``: the Rollout's values, else the
template's defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

PROMETHEUS_TEMPLATE = (
    Path(__file__).resolve().parents[2]
    / "k8s"
    / "components"
    / "argo-rollouts-analysis"
    / "analysistemplate-prometheus.yaml"
)


def shipped_template() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(PROMETHEUS_TEMPLATE.read_text())
    return document


def analysis_query(template: dict[str, Any], **args: str) -> str:
    """The template's query with ``args`` (``prometheus_url`` for ``prometheus-url``)."""
    values = {a["name"]: a["value"] for a in template["spec"]["args"] if "value" in a}
    values.update({name.replace("_", "-"): value for name, value in args.items()})
    query: str = template["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
    return re.sub(r"\{\{args\.([\w-]+)\}\}", lambda m: values[m.group(1)], query)
