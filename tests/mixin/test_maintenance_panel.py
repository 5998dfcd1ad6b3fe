"""The fleet dashboard's maintenance panel: its queries, as the dashboard has them, evaluated by
Prometheus's engine (promtool's expression tests) over the exporter's maintenance series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mixin.dashboards.maintenance import TITLE
from tests.mixin.dashboard_queries import interpolate, queries
from tests.mixin.test_rules import promtool

FILTERS = {"cluster": ".*", "environment": ".*", "tier": ".*", "profile": ".*"}
EVAL = 600  # seconds after 0: promtool's clock starts at the epoch
DAY = 86400


def info(instance: str, site: str) -> dict[str, str]:
    labels = f'job="site-status", instance="{instance}", site="{site}", environment="prod"'
    return {
        "series": f'site_status_site_info{{{labels}, tier="priprod", profile="os2web"}}',
        "values": "1x20",
    }


def series(name: str, instance: str, value: float, extra: str = "") -> dict[str, str]:
    return {
        "series": f'{name}{{job="site-status", instance="{instance}"{extra}}}',
        "values": f"{value:.0f}x20",
    }


NEXT_START = "site_status_maintenance_next_start_timestamp_seconds"
NEXT_END = "site_status_maintenance_next_end_timestamp_seconds"
INPUT = [
    info("open:9918", "open"),
    info("soon:9918", "soon"),
    info("later:9918", "later"),
    series("site_status_maintenance_info", "open:9918", 1, ', reason="PostgreSQL 16 upgrade"'),
    series(NEXT_START, "soon:9918", EVAL + 2 * DAY),
    series(NEXT_END, "soon:9918", EVAL + 2 * DAY + 3600),
    # Beyond the panel's 7 days.
    series(NEXT_START, "later:9918", EVAL + 8 * DAY),
    series(NEXT_END, "later:9918", EVAL + 8 * DAY + 3600),
]


def site(name: str, **extra: str) -> str:
    labels = {"environment": "prod", "site": name, "tier": "priprod", **extra}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def expected(ref: str) -> list[dict[str, Any]]:
    if ref == "open":
        return [{"labels": site("open", reason="PostgreSQL 16 upgrade"), "value": 1}]
    moment = EVAL + 2 * DAY + (3600 if ref == "end" else 0)
    return [{"labels": site("soon"), "value": moment * 1000}]


def test_the_panel_lists_open_windows_with_reason_and_the_next_7_days(tmp_path: Path) -> None:
    panel = [query for query in queries() if query.panel == TITLE]
    assert len(panel) == 3
    refs = ["open", "start", "end"]
    tests = [
        {
            "expr": interpolate(query.expr, FILTERS),
            "eval_time": f"{EVAL}s",
            "exp_samples": expected(ref),
        }
        for query, ref in zip(panel, refs, strict=True)
    ]
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": INPUT, "promql_expr_test": tests}],
    }
    (tmp_path / "panel.test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = promtool("test", "rules", "panel.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
