"""The rules on a shared store's series (promtool): two clusters with the same site names and the
same ``instance`` labels never mix. Annotations are left out of the rules under test here (the
end-to-end test, tests/integration/test_clusters_e2e.py, compares the rendered texts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mixin.config import MixinConfig
from mixin.fleet import FLEET_ALERT
from mixin.recording import availability_name
from mixin.rules import rule_files
from tests.mixin.dashboard_queries import interpolate, queries
from tests.mixin.test_rules import promtool

MINUTES = 20
CLUSTERS = ("test", "prod")


def per_minute(value_at: Any) -> str:
    return " ".join(str(value_at(minute)) for minute in range(MINUTES + 1))


def pod_ip(name: str) -> str:
    """The same in both clusters (the default pod CIDR), different per site."""
    return f"10.42.{len(name)}.{ord(name[-1])}"


def site(
    cluster: str, name: str, critical_from: int | None = None, down_from: int | None = None
) -> list[dict[str, str]]:
    """One exporter's series as the store holds them; the instance depends on the name only."""
    target = f'cluster="{cluster}", job="site-status", instance="{pod_ip(name)}:9918"'
    info = f'site="{name}", environment="prod", tier="priprod", profile="os2web"'

    def scraped(value: Any) -> Any:
        def at(minute: int) -> Any:
            if down_from is not None and minute >= down_from:
                return "stale" if minute == down_from else "_"
            return value(minute) if callable(value) else value

        return at

    def status(minute: int) -> int:
        return 2 if critical_from is not None and minute >= critical_from else 0

    def up(minute: int) -> int:
        return 0 if down_from is not None and minute >= down_from else 1

    return [
        {"series": f"site_status_site_info{{{target}, {info}}}", "values": per_minute(scraped(1))},
        {"series": f"up{{{target}}}", "values": per_minute(up)},
        {"series": f"site_status_maintenance{{{target}}}", "values": per_minute(scraped(0))},
        {"series": f"site_status_site_status{{{target}}}", "values": per_minute(scraped(status))},
    ]


def labels(cluster: str, name: str, **extra: str) -> dict[str, str]:
    return {
        "cluster": cluster,
        "job": "site-status",
        "instance": f"{pod_ip(name)}:9918",
        "site": name,
        "environment": "prod",
        "tier": "priprod",
        "profile": "os2web",
        **extra,
    }


def scenario() -> dict[str, Any]:
    """``shop`` CRITICAL in test; ``campus`` down in prod; three more test sites fail: a fleet
    incident in test only. prod's shop (same name, same instance) stays OK throughout."""
    series = [
        site("test", "shop", critical_from=2),
        site("prod", "shop"),
        site("test", "campus"),
        site("prod", "campus", down_from=2),
        *(site("test", f"site{n}", critical_from=10) for n in range(3)),
        *(site("prod", f"site{n}") for n in range(3)),
    ]
    critical = {"severity": "critical"}
    return {
        "interval": "1m",
        "input_series": [s for group in series for s in group],
        "alert_rule_test": [
            {
                "eval_time": "8m",
                "alertname": "SiteStatusSiteCritical",
                "exp_alerts": [{"exp_labels": labels("test", "shop", **critical)}],
            },
            {
                "eval_time": "8m",
                "alertname": "SiteStatusExporterDown",
                "exp_alerts": [{"exp_labels": labels("prod", "campus", **critical)}],
            },
            {"eval_time": "8m", "alertname": "SiteStatusExporterAbsent", "exp_alerts": []},
            {"eval_time": "8m", "alertname": FLEET_ALERT, "exp_alerts": []},
            {
                "eval_time": "14m",
                "alertname": FLEET_ALERT,
                "exp_alerts": [{"exp_labels": {"cluster": "test", "tier": "priprod", **critical}}],
            },
        ],
        "promql_expr_test": [
            {
                # Below 1 only where the site failed: each cluster's shop has its own.
                "expr": f'{availability_name("1d")}{{site="shop"}} < bool 1',
                "eval_time": "6m",
                "exp_samples": [
                    {
                        "labels": f'{{cluster="{cluster}", site="shop", environment="prod", '
                        'tier="priprod", profile="os2web"}',
                        "value": int(cluster == "test"),
                    }
                    for cluster in CLUSTERS
                ],
            },
            *dashboard_tests(),
        ],
    }


def dashboard_tests() -> list[dict[str, Any]]:
    """The fleet dashboard's timeline and down count, as the dashboard has them, on the store:
    prod's campus is down (4, EXPORTER DOWN), test's shop CRITICAL, the namesakes OK."""
    fleet = {q.panel: q.expr for q in queries() if q.dashboard == "site-status-fleet.json"}
    every = {"cluster": ".*", "environment": ".*", "tier": ".*", "profile": ".*"}
    shown = {("test", "shop"): 2, ("prod", "campus"): 4}
    names = ("shop", "campus", "site0", "site1", "site2")
    timeline = [
        {
            "labels": f'site_status_site:status{{cluster="{cluster}", site="{name}", '
            'environment="prod", tier="priprod", profile="os2web"}',
            "value": shown.get((cluster, name), 0),
        }
        for cluster in CLUSTERS
        for name in names
    ]
    down = fleet["Exporters down"]
    return [
        {
            "expr": interpolate(fleet["Site status over time"], every),
            "eval_time": "8m",
            "exp_samples": timeline,
        },
        {
            "expr": interpolate(down, every),
            "eval_time": "8m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        },
        {
            "expr": interpolate(down, {**every, "cluster": "test"}),
            "eval_time": "8m",
            "exp_samples": [{"labels": "{}", "value": 0}],
        },
    ]


def write(directory: Path, test: dict[str, Any]) -> Path:
    config = MixinConfig(window_interval="1m")
    names = []
    for name, document in rule_files(config).items():
        for group in document["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        (directory / name).write_text(yaml.safe_dump(document))
        names.append(name)
    path = directory / "clusters.test.yml"
    document = {"rule_files": names, "evaluation_interval": "1m", "tests": [test]}
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1_000_000))
    return path


def test_two_clusters_with_the_same_names_and_instances_never_mix(tmp_path: Path) -> None:
    path = write(tmp_path, scenario())
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_expecting_a_page_in_both_clusters_fails(cluster: str, tmp_path: Path) -> None:
    """Not vacuous: a site page or a fleet alert in the other cluster too is caught."""
    test = scenario()
    other = "prod" if cluster == "test" else "test"
    wrong = test["alert_rule_test"][0 if cluster == "test" else 4]
    extra = {**wrong["exp_alerts"][0]["exp_labels"], "cluster": other}
    wrong["exp_alerts"].append({"exp_labels": extra})
    result = promtool("test", "rules", write(tmp_path, test).name, cwd=tmp_path)
    assert result.returncode == 1
