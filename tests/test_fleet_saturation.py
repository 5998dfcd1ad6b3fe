"""The 200-site run's missed SiteStatusFleetCritical (docs/fleet.md): the rules are not why.

The compressed copy (x10) of the shipped rules, evaluated every 3 s as in the run, fed what the
saturated run showed: for 18 s, exporters' scrapes time out, each on every other scrape (the
set of unscraped targets churns, as a plot at 3 s steps showed it: up to 144 at once). promtool
evaluates every step on time and the fleet alert fires after its 12 s ``for``. So the run's miss
came from how its Prometheus evaluated (late or skipped rule evaluations under a load average
of 72 on 2 CPUs), not from the rules: docs/fleet.md, and the run now records the rule groups'
missed iterations and the alert's pending time to tell.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mixin.fleet import FLEET_ALERT
from mixin.generate import REPO
from mixin.rules import ALERTS_FILE, RECORDING_FILE
from tests.mixin.test_rules import promtool
from tools.fleet.compress import compressed_rules

STEP = 3  # seconds: the x10 run's scrape and evaluation interval
STEPS = 40
SITES = 30
#: The dip: samples 20..25 (60 s to 78 s).
DIP = range(20, 26)


def site(number: int) -> list[dict[str, str]]:
    """An exporter that is scraped fine except in the dip, where every other scrape of it
    times out (``up`` 0, its own series stale until the next good scrape)."""
    target = f'job="site-status", instance="site{number:02d}:9918"'

    def down(step: int) -> bool:
        return step in DIP and (step + number) % 2 == 0

    def own(value: int) -> str:
        return " ".join("stale" if down(step) else str(value) for step in range(STEPS + 1))

    info = f'site="site{number:02d}", environment="prod", tier="priprod", profile="os2web"'
    return [
        {"series": f"site_status_site_info{{{target}, {info}}}", "values": own(1)},
        {
            "series": f"up{{{target}}}",
            "values": " ".join("0" if down(step) else "1" for step in range(STEPS + 1)),
        },
        {"series": f"site_status_maintenance{{{target}}}", "values": own(0)},
        {"series": f"site_status_site_status{{{target}}}", "values": own(0)},
    ]


def test_a_churning_scrape_dip_longer_than_for_fires_the_fleet_alert(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in (ALERTS_FILE, RECORDING_FILE):
        document = yaml.safe_load((REPO / "alerts" / name).read_text())
        (rules / name).write_text(yaml.safe_dump(compressed_rules(document, 10)))
    test = {
        "name": "an 18 s dip, half the targets unscraped at each step, for 12 s",
        "interval": f"{STEP}s",
        "input_series": [series for n in range(SITES) for series in site(n)],
        "promql_expr_test": [
            {
                # Half of the 30 are down at every step of the dip.
                "expr": "count by (tier) (site_status_site:failing)",
                "eval_time": "66s",
                "exp_samples": [{"labels": '{tier="priprod"}', "value": SITES // 2}],
            },
            {
                "expr": f'count(ALERTS{{alertname="{FLEET_ALERT}", alertstate="firing"}})',
                "eval_time": "75s",
                "exp_samples": [{"labels": "{}", "value": 1}],
            },
            {
                "expr": f'count(ALERTS{{alertname="{FLEET_ALERT}", alertstate="firing"}})',
                "eval_time": "57s",
                "exp_samples": [],
            },
        ],
    }
    document = {
        "rule_files": [f"rules/{ALERTS_FILE}", f"rules/{RECORDING_FILE}"],
        "evaluation_interval": f"{STEP}s",
        "tests": [test],
    }
    path = tmp_path / "saturation.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1_000_000))
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
