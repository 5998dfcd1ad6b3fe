"""The fleet alert, unit-tested by promtool on the shipped rule files: one alert for a storm.

The storm: 30 priprod sites fail within three minutes (25 turn CRITICAL, 5 lose their
exporter, as in a bad platform release). ``SiteStatusFleetCritical`` fires, listing all 30,
before any per-site page is due (so Alertmanager's inhibition holds them back: tested against
the real Alertmanager in test_fleet_routing.py). A site failing alone, or two, never make a
fleet incident; sites in maintenance do not count; tiers count apart.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mixin.alerts import with_cluster
from mixin.config import MixinConfig
from mixin.fleet import FLEET_ALERT, fleet_alert
from mixin.generate import REPO
from mixin.rules import ALERTS_FILE, RECORDING_FILE
from tests.mixin.test_rules import promtool

MINUTES = 40  # every series has a sample per minute from 0m to 40m
RUNBOOK = "http://localhost:8000/docs/runbooks"


def per_minute(value_at: Any) -> str:
    return " ".join(str(value_at(minute)) for minute in range(MINUTES + 1))


def site(
    name: str,
    tier: str = "priprod",
    critical: tuple[int, int] | None = None,
    down: tuple[int, int] | None = None,
    maintenance: bool = False,
    drush_fails: bool = False,
) -> list[dict[str, str]]:
    """The series of one site's exporter: CRITICAL in ``critical`` [from, to) minutes (its
    healthz says component database fails; with ``drush_fails`` its drush too), or not
    scraped at all in ``down`` (its own series go stale, ``up`` is 0)."""
    instance = f"{name}:9918"
    target = f'job="site-status", instance="{instance}"'

    def scraped(value: Any) -> Any:
        def at(minute: int) -> Any:
            if down and down[0] <= minute < down[1]:
                return "stale" if minute == down[0] else "_"
            return value(minute) if callable(value) else value

        return at

    def status(minute: int) -> int:
        return 2 if critical and critical[0] <= minute < critical[1] else 0

    def up(minute: int) -> int:
        return 0 if down and down[0] <= minute < down[1] else 1

    def reason(minute: int) -> Any:
        """2 while CRITICAL, then a staleness marker: no series while OK."""
        if critical and critical[0] <= minute < critical[1]:
            return 2
        return "stale" if critical and minute == critical[1] else "_"

    reasons = [HEALTHZ_DATABASE, *([DRUSH_NO_DATABASE] if drush_fails else [])]

    info = f'site="{name}", environment="prod", tier="{tier}", profile="os2web"'
    return [
        {"series": f"site_status_site_info{{{target}, {info}}}", "values": per_minute(scraped(1))},
        {"series": f"up{{{target}}}", "values": per_minute(up)},
        {
            "series": f"site_status_maintenance{{{target}}}",
            "values": per_minute(scraped(1 if maintenance else 0)),
        },
        {"series": f"site_status_site_status{{{target}}}", "values": per_minute(scraped(status))},
        *(
            {
                "series": f"site_status_probe_reason{{{target}, {labels}}}",
                "values": per_minute(scraped(reason)),
            }
            for labels in reasons
        ),
    ]


#: The shared database down, as the sites' probes say it (docs/reasons.md).
HEALTHZ_DATABASE = 'probe="frontpage", kind="http", reason="component", part="database"'
DRUSH_NO_DATABASE = 'probe="drupal", kind="drupal", reason="drush", part="SQLSTATE[HY000] [2002]"'


def storm_sites() -> list[list[dict[str, str]]]:
    """site01-10 CRITICAL from 2m, site11-20 from 3m, site21-25 from 4m, site26-30 down from
    4m; all recover at 20m."""
    sites = []
    for number in range(1, 31):
        name = f"site{number:02d}"
        if number <= 25:
            start = 2 + (number - 1) // 10
            sites.append(site(name, critical=(start, 20), drush_fails=number <= 10))
        else:
            sites.append(site(name, down=(4, 20)))
    return sites


def fleet_firing(tier: str, sites: list[str], in_common: list[str]) -> dict[str, Any]:
    """The alert as promtool must see it, from the shipped rule's own text; ``in_common``: the
    causes it names, most shared first."""
    listed = "".join(f"{name} (prod) " for name in sorted(sites))
    rule = fleet_alert(MixinConfig()).rule(MixinConfig())
    # No cluster label and no external labels here: the cluster's mention renders as nothing.
    template = rule["annotations"]["description"].replace(
        with_cluster(MixinConfig(), " in cluster {{ . }}"), ""
    )
    start = template.index('{{ range printf "site_status_site:failing')
    end = template.index("{{ end }}", start) + len("{{ end }}")
    template = template[:start] + listed + template[end:]
    start = template.index("{{ range $i, $c")
    end = template.index(". Failing now:")
    description = (template[:start] + "; ".join(in_common) + template[end:]).replace(
        "{{ $labels.tier }}", tier
    )
    return {
        "exp_labels": {"tier": tier, "severity": "critical"},
        "exp_annotations": {
            "summary": f"{len(sites)} {tier} sites are failing at once; in common: {in_common[0]}",
            "description": description,
            "runbook_url": f"{RUNBOOK}/{FLEET_ALERT}.md",
            "dashboard_url": (
                f"http://localhost:3000/d/site-status-fleet/site-status-fleet?var-tier={tier}"
            ),
        },
    }


def expect(minute: int, alertname: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": alertname, "exp_alerts": alerts}


def site_critical(name: str, drush: bool = False) -> dict[str, Any]:
    """As in alerts.test.yml: the probes that say why, by name."""
    why = "frontpage: component database"
    if drush:
        why = f"drupal: drush SQLSTATE[HY000] [2002]; {why}"
    return {
        "exp_labels": {
            "job": "site-status",
            "instance": f"{name}:9918",
            "site": name,
            "environment": "prod",
            "tier": "priprod",
            "profile": "os2web",
            "severity": "critical",
        },
        "exp_annotations": {
            "summary": f"{name} (prod, priprod) is CRITICAL: {why}",
            "description": (
                f"The site's rollup has been CRITICAL for 5m. Critical probes, with why: {why}. "
                "Their summaries are in the site detail "
                "dashboard (probe status timeline and latest reports) and in Loki: "
                f'{{job="site-status", site="{name}", environment="prod", '
                'report_type="transition"} | json | status="CRITICAL".'
            ),
            "loki_query": (
                f'{{job="site-status", site="{name}", environment="prod", '
                'report_type="transition"} | json'
            ),
            "runbook_url": f"{RUNBOOK}/SiteStatusSiteCritical.md",
            "dashboard_url": (
                "http://localhost:3000/d/site-status-site/site-status-site"
                f"?var-environment=prod&var-site={name}"
            ),
        },
    }


def group(name: str, sites: list[list[dict[str, str]]], **tests: Any) -> dict[str, Any]:
    return {
        "name": name,
        "interval": "1m",
        "input_series": [series for one in sites for series in one],
        **tests,
    }


def storm() -> dict[str, Any]:
    everyone = [f"site{n:02d}" for n in range(1, 31)]
    # The summary's first line names the shared component; the description the top three.
    common = [
        "25 http component database",
        "10 drupal drush SQLSTATE[HY000] [2002]",
        "5 exporter not scraped",
    ]
    healthy = [site(f"calm{n}", tier="flexprod") for n in range(2)]
    in_maintenance = site("library", critical=(2, 20), maintenance=True)
    return group(
        "30 priprod sites fail within 3 minutes: one fleet alert listing them, before any page",
        [*storm_sites(), *healthy, in_maintenance],
        promql_expr_test=[
            {
                "expr": "count by (tier) (site_status_site:failing)",
                "eval_time": "4m",
                "exp_samples": [{"labels": '{tier="priprod"}', "value": 30}],
            }
        ],
        alert_rule_test=[
            # Pending from 2m (10 sites fail), firing after its 2m "for".
            expect(3, FLEET_ALERT, []),
            expect(4, FLEET_ALERT, [fleet_firing("priprod", everyone, common)]),
            # Not one per-site page is due yet: the fleet alert is ahead of them all.
            expect(6, "SiteStatusSiteCritical", []),
            expect(6, "SiteStatusExporterDown", []),
            expect(
                7,
                "SiteStatusSiteCritical",
                [site_critical(f"site{n:02d}", drush=True) for n in range(1, 11)],
            ),
            expect(7, FLEET_ALERT, [fleet_firing("priprod", everyone, common)]),
            # Everyone recovers at 20m: it keeps firing 10m more (keep_firing_for, with the
            # value and list it last had), so sites that recover late do not page one by one.
            expect(28, FLEET_ALERT, [fleet_firing("priprod", everyone, common)]),
            expect(31, FLEET_ALERT, []),
        ],
    )


def lone_and_few() -> dict[str, Any]:
    calm = [site(f"calm{n:02d}") for n in range(28)]
    return group(
        "one site, then two, failing alone: per-site pages, no fleet alert",
        [
            *calm,
            site("shop", critical=(2, 20)),
            site("campus", critical=(25, 40)),
            # Two more fail with shop, but both in maintenance: they do not count.
            site("library", critical=(2, 20), maintenance=True),
            site("archive", critical=(2, 20), maintenance=True),
            site("intranet", critical=(26, 40)),
        ],
        alert_rule_test=[
            expect(7, "SiteStatusSiteCritical", [site_critical("shop")]),
            *(expect(minute, FLEET_ALERT, []) for minute in (4, 7, 10, 31, 35)),
            expect(30, "SiteStatusSiteCritical", [site_critical("campus")]),
            expect(
                31, "SiteStatusSiteCritical", [site_critical("campus"), site_critical("intranet")]
            ),
        ],
    )


def tiers_apart() -> dict[str, Any]:
    return group(
        "3 flexprod and 2 priprod sites fail together: a fleet alert for flexprod only",
        [
            *(site(f"flex{n}", tier="flexprod", critical=(2, 40)) for n in range(3)),
            *(site(f"pri{n}", critical=(2, 40)) for n in range(2)),
        ],
        alert_rule_test=[
            expect(
                5,
                FLEET_ALERT,
                [
                    fleet_firing(
                        "flexprod", ["flex0", "flex1", "flex2"], ["3 http component database"]
                    )
                ],
            ),
        ],
    )


def write_tests(directory: Path, tests: list[dict[str, Any]]) -> Path:
    rules = directory / "rules"
    rules.mkdir()
    for name in (ALERTS_FILE, RECORDING_FILE):
        shutil.copy(REPO / "alerts" / name, rules)
    document = {
        "rule_files": [f"rules/{ALERTS_FILE}", f"rules/{RECORDING_FILE}"],
        "evaluation_interval": "1m",
        "tests": tests,
    }
    path = directory / "fleet.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1_000_000))
    return path


@pytest.mark.parametrize("scenario", [storm, lone_and_few, tiers_apart])
def test_promtool_fleet_scenarios(scenario: Any, tmp_path: Path) -> None:
    path = write_tests(tmp_path, [scenario()])
    result = promtool("test", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The scenarios are not vacuous: expecting no fleet alert in the storm fails."""
    broken = storm()
    broken["alert_rule_test"][1]["exp_alerts"] = []
    result = promtool("test", "rules", write_tests(tmp_path, [broken]).name, cwd=tmp_path)
    assert result.returncode != 0
    assert FLEET_ALERT in result.stdout + result.stderr


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def test_the_fleet_alert_is_ahead_of_every_page_it_stands_in_for() -> None:
    """Its ``for``, plus one evaluation of the record, plus a minute for the sites to fail one
    after another, ends before the per-site pages' ``for`` (group wait comes on top of those)."""
    durations = MixinConfig().for_
    fleet = seconds(durations.fleet_critical) + 60 + 60
    assert fleet <= seconds(durations.site_critical)
    assert fleet <= seconds(durations.exporter_down)
    assert fleet <= seconds(durations.exporter_absent)
