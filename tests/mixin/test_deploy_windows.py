"""No shipped deploy window overlaps a pager mute of its tier (unless the tier is listed as on
purpose), checked with the same code as ``site-status windows --mutes``; the CI snippets use
the shipped windows."""

from __future__ import annotations

import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from exporter.cli import build_parser
from exporter.schedule.grammar import parse_rule
from exporter.schedule.mutes import mutes_for_tier, overlaps
from mixin.alertmanager import alertmanager_config
from mixin.deploy_windows import DEPLOY_WINDOWS, OVERLAP_ALLOWED
from tests.gate.test_ci_snippets import SNIPPETS, commands
from tests.support.exporter_process import command_env

SINCE = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize("tier", sorted(DEPLOY_WINDOWS))
def test_shipped_deploy_windows_do_not_overlap_the_tiers_mutes(tier: str) -> None:
    mutes = mutes_for_tier(alertmanager_config(), tier)
    assert "weekly-maintenance" in mutes  # the check sees the mute it guards against
    windows = [parse_rule(spec) for spec in DEPLOY_WINDOWS[tier]]
    found = overlaps(windows, mutes, SINCE)
    assert tier in OVERLAP_ALLOWED or found == [], [o.line() for o in found]


def test_the_old_window_would_have_overlapped_thursday_afternoon() -> None:
    mutes = mutes_for_tier(alertmanager_config(), "priprod")
    found = overlaps([parse_rule("mon-thu 10:00-15:00 Europe/Oslo")], mutes, SINCE)
    assert len(found) in (52, 53)  # every Thursday of a year
    assert found[0].line() == (
        "deploy window Thu 2026-12-03 10:00-15:00 Europe/Oslo overlaps pager mute "
        "'weekly-maintenance' from Thu 2026-12-03 13:00 to 15:00 Europe/Oslo"
    )


def test_the_windows_command_checks_an_alertmanager_file(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config()))

    def check(*specs: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "exporter.cli",
                "windows",
                *specs,
                "--mutes",
                str(config),
                "--tier",
                "priprod",
                "--from",
                "2026-12-01T00:00Z",
            ],
            capture_output=True,
            text=True,
            env=command_env(),
            check=False,
        )

    clean = check(*DEPLOY_WINDOWS["priprod"])
    assert clean.returncode == 0, clean.stderr
    assert "no deploy window overlaps the priprod mutes (weekly-maintenance)" in clean.stdout
    overlapping = check("thu 12:00-14:00 Europe/Oslo")
    assert overlapping.returncode == 1
    assert overlapping.stdout.splitlines()[0].endswith(
        "from Thu 2026-12-03 13:00 to 14:00 Europe/Oslo"
    )
    assert "overlap(s) with the priprod mutes" in overlapping.stderr


@pytest.mark.parametrize("snippet", sorted(SNIPPETS.glob("*.yml")), ids=lambda p: p.name)
def test_the_ci_snippets_use_the_shipped_windows(snippet: Path) -> None:
    (line,) = [c for c in commands(yaml.safe_load(snippet.read_text())) if "--window" in c]
    words = shlex.split(line.replace('"$PROMETHEUS_URL"', "http://prometheus:9090"))
    args = build_parser().parse_args(words[1:])
    assert [rule.text for spec in args.window for rule in spec] == list(DEPLOY_WINDOWS["priprod"])
