"""Error budgets and burn-rate alerts (mixin/slo.py), with promtool.

The rule files are the generator's, written beside a copy of each test file: the burn test
leaves the 1d/7d/30d availability windows out (the alerts do not read them, and they are most of
promtool's time); the month test renders every state with a 1 h state interval so that a whole
month is 744 evaluations.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mixin.config import MixinConfig, ServiceLevels, SiteObjective
from mixin.recording import window_rules
from mixin.rules import alert_groups, recording_groups
from mixin.slo import fast_burn_for, objective_rules, seconds
from tests.mixin.test_rules import PROMTOOL_TESTS, promtool


def write_rules(path: Path, config: MixinConfig, with_windows: bool) -> None:
    groups = recording_groups(config)["groups"]
    if not with_windows:
        left_out = {rule["record"] for rule in window_rules(config)}
        for group in groups:
            group["rules"] = [r for r in group["rules"] if r.get("record") not in left_out]
    path.write_text(yaml.safe_dump({"groups": groups + alert_groups(config)["groups"]}))


def run_promtool_test(tmp_path: Path, name: str, rules: str, config: MixinConfig) -> str:
    shutil.copy(PROMTOOL_TESTS / name, tmp_path / name)
    write_rules(tmp_path / rules, config, with_windows=False)
    result = promtool("test", "rules", name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_burn_rate_alerts_fire_on_their_burn_and_not_on_an_even_spend(tmp_path: Path) -> None:
    run_promtool_test(tmp_path, "error_budget.test.yml", "error-budget.rules.yml", MixinConfig())


def test_the_month_counters_and_budget_start_again_at_a_month_boundary(tmp_path: Path) -> None:
    config = MixinConfig(state_interval="1h", window_interval="1h")
    run_promtool_test(tmp_path, "error_budget_month.test.yml", "month.rules.yml", config)


def test_the_burn_test_rules_are_the_shipped_ones_less_the_windows() -> None:
    """The burn test's rules differ from the shipped file only by the 1d/7d/30d windows."""
    config = MixinConfig()
    shipped = recording_groups(config)["groups"] + alert_groups(config)["groups"]
    windows = {rule["record"] for rule in window_rules(config)}
    kept = [r for g in shipped for r in g["rules"] if r.get("record") not in windows]
    assert len(kept) == sum(len(g["rules"]) for g in shipped) - len(windows)


def test_the_page_waits_longer_than_the_critical_page() -> None:
    for config in (MixinConfig(), MixinConfig(state_interval="1s").with_all_for("2s")):
        critical = seconds(config.for_.site_critical) + seconds(config.state_interval)
        assert seconds(fast_burn_for(config)) > critical


def test_a_site_override_replaces_its_tier_target() -> None:
    levels = ServiceLevels(
        sites=(SiteObjective(site="shop", environment="prod", availability=0.9),)
    )
    rules = objective_rules(MixinConfig(service_levels=levels))
    own = [r for r in rules if r["labels"].get("site") == "shop"]
    assert [r["record"] for r in own] == ["site_status_site:objective:availability"]
    assert own[0]["expr"].startswith("0.9 * ")
    tier = [r for r in rules if r["labels"].get("tier") == "priprod"]
    assert all("unless on(site, environment)" in r["expr"] for r in tier)
    assert all('site="shop", environment="prod"' in r["expr"] for r in tier)


@pytest.mark.parametrize("target", [0, 1, 1.5])
def test_a_target_must_be_a_ratio(target: float) -> None:
    with pytest.raises(ValueError, match="availability"):
        ServiceLevels.model_validate({"tiers": {"priprod": {"availability": target}}})
