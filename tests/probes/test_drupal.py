"""The ``drupal`` kind run by the real local runner against the ``drush`` stand-in."""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from exporter.command_runners import CommandRunner
from exporter.command_runners.local import LocalRunner
from exporter.config import ConfigInvalid, parse_config
from exporter.context import ProbeRuntime
from exporter.probe_api import ProbeContext, Reason, Result
from exporter.registry import default_registry
from exporter.status import Status
from probes.drupal.probe import DrupalProbe, run
from tests.support.context import make_context
from tests.support.fuse_mounts import FuseMounts
from tests.support.processes import alive_in_group, process_state
from tests.support.timing import LOADED, wait_for

SUPPORT = Path(__file__).resolve().parents[1] / "support"
DRUSH = str(SUPPORT / "drush")
FIXTURES = Path(__file__).parent / "fixtures" / "drush"
DB_PASSWORD = "Sup3rS3cretDbPass"
SEVERITY = "site_status_drupal_requirement_severity"
COUNTS = "site_status_drupal_requirements"
INFO = "site_status_drupal_info"


def fixture_env(requirements: str = "drush13-requirements.json", **extra: str) -> dict[str, str]:
    return {
        "DRUSH_STANDIN_REQUIREMENTS": str(FIXTURES / requirements),
        "DRUSH_STANDIN_STATUS": str(FIXTURES / "status.json"),
        **extra,
    }


def probe(env: dict[str, str] | None = None, **fields: Any) -> DrupalProbe:
    return DrupalProbe.model_validate(
        {"name": "site", "kind": "drupal", "drush": DRUSH, "env": env or fixture_env(), **fields}
    )


async def run_probe(
    config: DrupalProbe, timeout: float = 20.0, runtime: ProbeRuntime | None = None
) -> Result:
    return await run(config, make_context(timeout, runtime=runtime))


def series(result: Result, family: str) -> dict[tuple[str, ...], float]:
    return {s.labels: s.value for s in result.samples if s.family == family}


def invocations(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [event for event in map(json.loads, lines) if event["event"] == "start"]


async def test_drush_13_site_is_graded_per_requirement_with_reasons() -> None:
    result = await run_probe(probe())
    assert result.status is Status.CRITICAL
    assert result.summary.startswith(
        "3 errors, 2 warnings: Cron maintenance tasks (Last run 3 days 2 hours ago); "
    )
    details = result.details
    assert (details["requirements"], details["errors"], details["warnings"]) == (20, 3, 2)
    problems = {p["id"]: p for p in details["problems"]}
    assert list(problems) == [
        "cron",
        "update_core",
        "trusted_host_patterns",
        "update_contrib",
        "experimental_modules",
    ]
    assert problems["trusted_host_patterns"] == {
        "id": "trusted_host_patterns",
        "severity": "error",
        "title": "Trusted Host Settings",
        "value": "Not enabled",
        "description": "The trusted_host_patterns setting is not configured in settings.php. "
        "This can lead to security vulnerabilities.",
    }
    # The cron link's token is a secret.
    assert "run-cron?token=***" in problems["cron"]["description"]
    assert "abcdef0123456789" not in json.dumps(details)
    assert details["drush"]["exit_code"] == 0
    assert details["drush"]["command"] == f"{DRUSH} core-requirements --format=json"
    severities = series(result, SEVERITY)
    assert len(severities) == 20
    assert severities["public://.htaccess",] == 0
    assert severities["cron",] == 2 and severities["drupal",] == -1
    assert series(result, COUNTS) == {("info",): 4, ("ok",): 11, ("warning",): 2, ("error",): 3}
    assert series(result, INFO) == {("10.3.6", "8.3.12", "13.3.1.0"): 1}
    assert details["drupal"]["drupal-version"] == "10.3.6"
    everything = json.dumps([result.summary, details, [s.labels for s in result.samples]])
    assert DB_PASSWORD not in everything and "tok_live" not in everything


@pytest.mark.parametrize(
    ("fixture", "status", "summary", "requirements"),
    [
        ("drush11-requirements.json", Status.WARNING, "1 warning: Drupal core update status", 5),
        ("drush10-list.json", Status.CRITICAL, "1 error, 1 warning: Trusted Host Settings", 5),
        ("drush10-gapped.json", Status.CRITICAL, "1 error, 1 warning: Trusted Host", 2),
        ("drupal112-requirements.json", Status.CRITICAL, "1 error, 2 warnings: Drupal core", 7),
        ("noise-before-json.txt", Status.WARNING, "1 warning: Module and theme update", 2),
    ],
)
async def test_every_drush_generation(
    fixture: str, status: Status, summary: str, requirements: int
) -> None:
    result = await run_probe(probe(fixture_env(fixture)))
    assert result.status is status, result.summary
    assert result.summary.startswith(summary)
    assert result.details["requirements"] == requirements
    assert len(series(result, SEVERITY)) == requirements


async def test_an_empty_report_is_unknown_with_the_reason() -> None:
    # Drush 13.6 on Drupal 12 prints [] (drush-ops/drush#6324): the check broke, the site is
    # not fine.
    result = await run_probe(probe(fixture_env("empty.json")))
    assert result.status is Status.UNKNOWN
    assert result.summary == (
        "drush reported no requirements: the status report came back empty "
        "(a Drush/Drupal version mismatch does this)"
    )
    assert result.details["requirements"] == 0


async def test_notices_before_the_json_are_counted() -> None:
    result = await run_probe(probe(fixture_env("noise-before-json.txt")))
    assert result.details["drush"]["notice_lines_before_json"] == 4


async def test_unrecognized_severity_is_a_warning_with_a_note() -> None:
    result = await run_probe(probe(fixture_env("drupal112-requirements.json")))
    mystery = next(p for p in result.details["problems"] if p["id"] == "mystery")
    assert mystery["note"] == "unrecognized severity 'catastrophic'"


async def test_ignore_and_overrides_tune_the_grade() -> None:
    config = probe(
        ignore=["trusted_host_patterns", "Cron maintenance tasks"],
        severity_overrides={
            "update_core": "warning",
            "update_contrib": {"warning": "ok"},
            "experimental_modules": "ok",
        },
    )
    result = await run_probe(config)
    assert result.status is Status.WARNING
    assert result.summary.startswith("1 warning: Drupal core update status")
    assert result.details["ignored"] == ["cron", "trusted_host_patterns"]
    graded = {p["id"]: p.get("graded_as") for p in result.details["problems"]}
    assert graded == {
        "update_core": "warning",
        "experimental_modules": "ok",
        "update_contrib": "ok",
    }
    # The series follow the grade, so an override is what ends the alert on a requirement
    # (SiteStatusDrupalRequirementError: severity == 2); an ignored one has no series. The
    # details and the counts keep what Drupal reported.
    severities = series(result, SEVERITY)
    assert ("trusted_host_patterns",) not in severities and ("cron",) not in severities
    assert severities["update_core",] == 1
    assert severities["experimental_modules",] == 0 and severities["update_contrib",] == 0
    assert 2 not in severities.values()
    assert series(result, COUNTS)[("error",)] == 3
    core = next(p for p in result.details["problems"] if p["id"] == "update_core")
    assert (core["severity"], core["title"]) == ("error", "Drupal core update status")


async def test_command_line_working_directory_uri_and_environment(tmp_path: Path) -> None:
    root = tmp_path / "web"
    root.mkdir()
    log = tmp_path / "drush.log"
    config = probe(
        fixture_env(DRUSH_STANDIN_LOG=str(log)),
        root=str(root),
        uri="https://shop.example",
        status_interval=0,
    )
    result = await run_probe(config)
    assert result.status is Status.CRITICAL
    (call,) = invocations(log)
    assert call["argv"] == ["--uri=https://shop.example", "core-requirements", "--format=json"]
    assert call["cwd"] == str(root)
    assert "drupal" not in result.details and series(result, INFO) == {}


async def test_custom_drush_command_line(tmp_path: Path) -> None:
    log = tmp_path / "drush.log"
    config = probe(
        fixture_env("empty.json", DRUSH_STANDIN_LOG=str(log)),
        drush=[sys.executable, DRUSH],
        arguments=["rq", "--format=json", "--severity=1"],
    )
    result = await run_probe(config)
    # No rows at or above --severity=1: no warnings or errors, which is a good answer.
    assert result.status is Status.OK
    assert result.summary == "drush reported no requirements"
    assert invocations(log)[0]["argv"] == ["rq", "--format=json", "--severity=1"]


async def test_drush_status_runs_at_its_own_longer_interval(tmp_path: Path) -> None:
    log = tmp_path / "drush.log"
    runtime = ProbeRuntime()
    config = probe(fixture_env(DRUSH_STANDIN_LOG=str(log)), status_interval="6h")
    first = await run_probe(config, runtime=runtime)
    second = await run_probe(config, runtime=runtime)
    commands = [call["argv"][0] for call in invocations(log)]
    assert commands == ["core-requirements", "status", "core-requirements"]
    for result in (first, second):
        assert series(result, INFO) == {("10.3.6", "8.3.12", "13.3.1.0"): 1}
    assert second.details["drupal"]["status_checked_seconds_ago"] >= 0


async def test_a_failed_bootstrap_is_critical_with_stderr_redacted() -> None:
    env = fixture_env(
        DRUSH_STANDIN_MODE="fail",
        DRUSH_STANDIN_STDERR=str(FIXTURES / "bootstrap-failure.stderr"),
        DRUPAL_DB_PASSWORD=DB_PASSWORD,
    )
    result = await run_probe(probe(env))
    assert result.status is Status.CRITICAL
    # The reason Symfony's console printed under "In Connection.php line 79:", not the last line.
    assert result.summary == (
        "drush failed (exit 1): SQLSTATE[HY000] [1045] Access denied for user "
        "'drupal'@'10.42.0.17' (using password: YES)"
    )
    tail = result.details["drush"]["stderr_tail"]
    assert "while connecting to mysql://drupal:***@mariadb:3306/drupal" in tail
    assert "settings: 'password' => '***', 'host' => 'mariadb'" in tail
    assert "PDOException: tried credentials drupal / ***" in tail
    assert any("(using password: YES)" in line for line in tail)
    assert DB_PASSWORD not in json.dumps([result.summary, result.details])
    assert result.samples == ()


async def test_garbage_on_stdout_is_critical() -> None:
    result = await run_probe(probe(fixture_env("garbage.txt")))
    assert result.status is Status.CRITICAL
    assert result.summary == "drush printed no requirements JSON"
    assert "[also not json" in result.details["drush"]["stdout_tail"]


async def test_ten_megabytes_of_output_are_cut_not_kept() -> None:
    started = time.monotonic()
    result = await run_probe(probe(fixture_env(DRUSH_STANDIN_MODE="flood")))
    assert time.monotonic() - started < 15
    assert result.status is Status.CRITICAL
    assert result.summary == "drush printed no requirements JSON, output cut at 4.0MiB"
    drush = result.details["drush"]
    assert drush["stdout_truncated"] is True and drush["stdout_bytes"] == 4 * 1024 * 1024
    assert len(json.dumps(result.details)) < 10_000


async def test_a_hang_is_killed_with_its_whole_group_at_the_deadline(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    config = probe(fixture_env(DRUSH_STANDIN_MODE="hang", DRUSH_STANDIN_PIDS=str(pids)))
    started = time.monotonic()
    result = await run_probe(config, timeout=4.0)
    elapsed = time.monotonic() - started
    assert result.status is Status.CRITICAL
    assert result.summary == "timed out after 2.5s running drush"
    assert 2.4 < elapsed < 4.0  # within the probe's own timeout
    assert result.details["drush"]["stdout_tail"] == ["PHP Deprecated: something before the hang"]
    leader, child = (int(pid) for pid in pids.read_text().split())
    assert process_state(leader) is None  # reaped
    # Killed with the group: SIGKILLed, it dies once scheduled, later on a loaded machine.
    await wait_for(lambda: process_state(child) in (None, "Z") and alive_in_group(leader) == [])


async def test_missing_drush_is_unknown() -> None:
    result = await run_probe(probe(drush="/nonexistent/drush"))
    assert result.status is Status.UNKNOWN
    assert result.summary == "could not run drush: /nonexistent/drush: No such file or directory"


async def test_drupal_root_on_a_hung_mount(fuse_mount: FuseMounts) -> None:
    hung = fuse_mount("hung")
    runtime = ProbeRuntime()
    config = probe(root=f"{hung.path}/web")
    started = time.monotonic()
    first = await run_probe(config, timeout=2.0, runtime=runtime)
    assert time.monotonic() - started < 3.5
    assert first.status is Status.UNKNOWN
    assert first.summary.startswith("could not run drush: could not start")
    # The next run does not start another stuck thread: it says so at once (waiting on the
    # earlier one would take this run's 5 s).
    started = time.monotonic()
    second = await run_probe(config, timeout=5.0, runtime=runtime)
    assert time.monotonic() - started < LOADED
    assert second.status is Status.UNKNOWN
    assert second.summary.startswith("could not run drush: could not start "), second.summary
    assert f"hung: an earlier call on {hung.path} has not returned for " in second.summary
    assert second.why is Reason.HUNG
    hung.abort()


async def test_series_are_capped_worst_first() -> None:
    result = await run_probe(probe(max_requirement_series=4))
    assert set(series(result, SEVERITY)) == {
        ("cron",),
        ("trusted_host_patterns",),
        ("update_core",),
        ("experimental_modules",),
    }
    assert result.details["requirement_series_cut"] == 16
    assert sum(series(result, COUNTS).values()) == 20  # the counts cover every requirement


async def test_kubernetes_runner_not_installed_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "exporter.command_runners.pod_exec", None)
    config = probe(runner={"type": "kubernetes", "selector": "app=drupal", "container": "php"})
    result = await run_probe(config)
    assert result.status is Status.UNKNOWN
    assert result.summary.startswith("runner type kubernetes is not available")


async def test_kubernetes_runner_is_made_from_the_runner_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, str | None]] = []

    def kubernetes_runner(
        selector: str, container: str | None, context: ProbeContext
    ) -> CommandRunner:
        made.append((selector, container))
        return LocalRunner()  # runs the stand-in: the wiring is what is tested here

    module = types.ModuleType("exporter.command_runners.pod_exec")
    module.kubernetes_runner = kubernetes_runner  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "exporter.command_runners.pod_exec", module)
    runner = {"type": "kubernetes", "selector": "app.kubernetes.io/name=drupal", "container": "php"}
    result = await run_probe(probe(runner=runner))
    assert made == [("app.kubernetes.io/name=drupal", "php")]
    assert result.status is Status.CRITICAL and result.details["requirements"] == 20


# --- config -------------------------------------------------------------------------------------


def test_defaults_interval_timeout_and_jitter_over_the_whole_interval() -> None:
    config = parse_config(
        "defaults: {interval: 30s, jitter: 2s}\n"
        "probes:\n"
        "  - {name: site, kind: drupal}\n"
        "  - {name: fast, kind: drupal, interval: 1m, jitter: 5s}\n",
        default_registry(),
    )
    site = config.probe("site")
    assert isinstance(site, DrupalProbe)
    assert site.runner.type == "local" and site.drush == ("drush",)
    assert site.arguments == ("core-requirements", "--format=json")
    timing = config.timing(site)
    assert (timing.interval, timing.timeout, timing.jitter) == (300.0, 120.0, 300.0)
    fast = config.timing(config.probe("fast"))
    assert (fast.interval, fast.timeout, fast.jitter) == (60.0, 60.0, 5.0)


def test_runner_section_is_validated_with_its_path() -> None:
    text = (
        "probes:\n"
        "  - {name: a, kind: drupal, runner: {type: kubernetes}}\n"
        "  - {name: b, kind: drupal, runner: {type: ssh}}\n"
        "  - {name: c, kind: drupal, severity_overrides: {cron: fine}}\n"
        "  - {name: d, kind: drupal, runner: {type: local, selector: x}}\n"
    )
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text, default_registry())
    paths = [error.path for error in caught.value.errors]
    assert any(path.startswith("probes[0].runner") and "selector" in path for path in paths)
    assert any(path.startswith("probes[1].runner") for path in paths)
    assert any(path.startswith("probes[2].severity_overrides") for path in paths)
    assert any(path.startswith("probes[3].runner") for path in paths)


def test_kubernetes_runner_section() -> None:
    config = parse_config(
        "probes:\n"
        "  - name: site\n"
        "    kind: drupal\n"
        "    runner: {type: kubernetes, selector: app.kubernetes.io/name=drupal, container: php}\n"
        "    root: /var/www/html\n",
        default_registry(),
    )
    site = config.probe("site")
    assert isinstance(site, DrupalProbe)
    assert site.runner.type == "kubernetes"
    assert (site.runner.selector, site.runner.container) == ("app.kubernetes.io/name=drupal", "php")
