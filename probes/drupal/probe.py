"""The ``drupal`` probe kind: ``drush core-requirements``, graded per requirement.

One run is one Drupal bootstrap (1-3 s of CPU), so the kind runs every 5 minutes by default,
spread over the whole interval, never on scrape and never overlapping itself (the scheduler
guarantees both). Drush runs through a command runner: a local child process (the exporter as
a sidecar, or on the server), or ``pods/exec`` into a pod picked by label selector. Every few
hours the run also asks ``drush status`` for the versions (``site_status_drupal_info``).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import time
from collections import Counter
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from exporter.blocking import BlockingTimeout
from exporter.command_runners import (
    DEFAULT_MAX_OUTPUT_BYTES,
    CommandOutput,
    CommandRunner,
    CommandSpec,
    CommandUnavailable,
)
from exporter.failure_text import timed_out
from exporter.probe_api import (
    AbsolutePath,
    Duration,
    MetricFamily,
    ProbeConfig,
    ProbeContext,
    ProbeKind,
    Reason,
    Result,
    Sample,
    Size,
)
from exporter.status import Status
from exporter.units import format_size
from probes.deadline import blocking_within
from probes.drupal import text as drupal_text
from probes.drupal.drush_requirements import (
    SEVERITY_NAMES,
    NoRequirementsJson,
    Requirements,
    parse_requirements,
)
from probes.drupal.drush_status import NoStatusJson, StatusCache, status_fields
from probes.drupal.grading import Grade, SeverityOverride, grade, problem_details, summary_of

if TYPE_CHECKING:
    import subprocess

    from exporter.command_runners.local import Spawn

REQUIREMENT_SEVERITY = MetricFamily(
    "site_status_drupal_requirement_severity",
    "Severity of each requirement Drupal reports (sid: -1 info, 0 OK, 1 warning, 2 error), "
    "as graded: after severity_overrides, none for an ignored one; capped per probe.",
    ("requirement",),
)
REQUIREMENTS = MetricFamily(
    "site_status_drupal_requirements",
    "Requirements Drupal reports, by reported severity (info, ok, warning, error).",
    ("severity",),
)
INFO = MetricFamily(
    "site_status_drupal_info",
    "Always 1: the Drupal, PHP and Drush versions from drush status (refreshed every few hours).",
    ("drupal_version", "php_version", "drush_version"),
)

#: Kept back from the run's deadline: the command's own cleanup, then grading.
COMMAND_MARGIN = 1.5
#: ``drush status`` is not started with less time left than this (it waits for the next run).
MIN_STATUS_BUDGET = 1.0
#: ``exporter.command_runners.pod_exec.kubernetes_runner``: (selector, container, context).
KubernetesRunnerFactory = Callable[[str, "str | None", ProbeContext], CommandRunner]


class LocalRunnerConfig(BaseModel):
    """Drush as a child process of the exporter (a sidecar next to PHP, or on the server)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["local"] = "local"


class KubernetesRunnerConfig(BaseModel):
    """Drush through ``pods/exec`` in a pod of the exporter's namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["kubernetes"]
    #: A label selector: the first running pod it matches runs drush.
    selector: str = Field(min_length=1)
    #: The container to exec in; none: the pod's only (or default) container.
    container: str | None = Field(default=None, min_length=1)


RunnerConfig = Annotated[LocalRunnerConfig | KubernetesRunnerConfig, Field(discriminator="type")]


def _argv(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


class DrupalProbe(ProbeConfig):
    """A Drupal site's status report, through drush."""

    kind: Literal["drupal"]
    runner: RunnerConfig = Field(default_factory=LocalRunnerConfig)
    #: The drush executable, or a command line that ends in it (``[php, vendor/bin/drush]``).
    drush: Annotated[tuple[str, ...], Field(min_length=1)] = ("drush",)
    #: The Drupal root: drush's working directory.
    root: AbsolutePath | None = None
    #: ``--uri``: which site of a multisite, and the base of the links drush prints.
    uri: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    arguments: tuple[str, ...] = ("core-requirements", "--format=json")
    #: Requirement ids (or titles) left out of the grade (still published as series).
    ignore: tuple[str, ...] = ()
    #: Per requirement id (or title): ``ok``, or ``{warning: ok}`` to map only some severities.
    severity_overrides: dict[str, SeverityOverride] = Field(default_factory=dict)
    #: ``drush status`` for the versions this often; 0 turns it off.
    status_interval: Duration = Field(default=6 * 3600.0, ge=0)
    status_arguments: tuple[str, ...] = ("status", "--format=json")
    max_requirement_series: int = Field(default=100, ge=0, le=1000)
    max_output_bytes: Size = Field(default=DEFAULT_MAX_OUTPUT_BYTES, ge=1024)

    default_interval = 300.0
    default_timeout = 120.0
    #: Spread over the whole interval: 200 sites never bootstrap Drupal in the same second.
    default_jitter_ratio = 1.0

    _normalize_drush = field_validator("drush", mode="before")(_argv)

    @field_validator("drush", "arguments", "status_arguments")
    @classmethod
    def _no_empty_words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        if any(not word for word in words):
            raise ValueError("command words must not be empty")
        return words

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [name for name in env if not name or "=" in name or "\0" in name]
        if bad:
            raise ValueError(f"invalid environment variable names: {bad}")
        return env


def command_argv(config: DrupalProbe, arguments: tuple[str, ...]) -> tuple[str, ...]:
    uri = (f"--uri={config.uri}",) if config.uri else ()
    return (*config.drush, *uri, *arguments)


def command_budget(context: ProbeContext) -> float:
    return max(0.0, context.remaining() - COMMAND_MARGIN)


def command_runner(config: DrupalProbe, context: ProbeContext) -> CommandRunner | str:
    """The configured runner, or why there is none."""
    runner = config.runner
    if isinstance(runner, LocalRunnerConfig):
        from exporter.command_runners.local import LocalRunner

        async def offload(start: Spawn) -> subprocess.Popen[bytes]:
            # chdir into a Drupal root on a hung mount never returns: start in a worker thread.
            mount = context.mounts().containing(config.root) if config.root else None
            return await blocking_within(
                context, start, resource=mount.mountpoint if mount else None
            )

        return LocalRunner(offload)
    try:
        # Imported by name: only configs with this runner pay for the Kubernetes client.
        module = importlib.import_module("exporter.command_runners.pod_exec")
    except ImportError as error:
        return f"runner type kubernetes is not available in this installation: {error}"
    make: KubernetesRunnerFactory = module.kubernetes_runner
    try:
        return make(runner.selector, runner.container, context)
    except CommandUnavailable as error:
        return f"could not run drush: {error}"


async def run(config: DrupalProbe, context: ProbeContext) -> Result:
    runner = command_runner(config, context)
    if isinstance(runner, str):
        return Result(Status.UNKNOWN, runner, reason=Reason.ERROR)
    secrets = drupal_text.config_secrets(config.env, config.uri)
    argv = command_argv(config, config.arguments)
    spec = CommandSpec(
        argv=argv,
        timeout=command_budget(context),
        cwd=config.root,
        env=config.env,
        max_output_bytes=config.max_output_bytes,
    )
    drush: dict[str, Any] = {"command": drupal_text.scrub(" ".join(argv), secrets)}
    try:
        output = await runner.run(spec)
    except CommandUnavailable as error:
        reason = drupal_text.scrub(str(error), secrets)
        summary = f"could not run drush: {reason}"
        why = error.why or Reason.DRUSH  # a refused API server says refused
        return Result(Status.UNKNOWN, summary, {"drush": drush}, reason=why)
    drush.update(drupal_text.output_facts(output))
    status_cache = await refreshed_status(config, context, runner, output, secrets)
    try:
        # Up to 4 MiB of JSON and text, thousands of rows: parsed and graded in a worker
        # thread, never on the event loop.
        result = await blocking_within(
            context, parsed_and_graded, config, output, spec.timeout, secrets, drush, resource=None
        )
    except BlockingTimeout:
        summary = "drush's output could not be read before the deadline"
        return Result(Status.UNKNOWN, summary, {"drush": drush}, reason=Reason.TIMEOUT)
    return with_status(result, config, status_cache)


def parsed_and_graded(
    config: DrupalProbe,
    output: CommandOutput,
    timeout: float,
    secrets: list[str],
    drush: dict[str, Any],
) -> Result:
    try:
        requirements: Requirements | None = parse_requirements(output.stdout)
    except NoRequirementsJson:
        requirements = None
    return graded_output(config, output, timeout, secrets, drush, requirements)


def graded_output(
    config: DrupalProbe,
    output: CommandOutput,
    timeout: float,
    secrets: list[str],
    drush: dict[str, Any],
    requirements: Requirements | None,
) -> Result:
    if output.timed_out:
        failure = timed_out(timeout, "running", "drush")
        details = {"drush": {**drush, **drupal_text.output_tails(output, secrets)}}
        return Result(Status.CRITICAL, failure.text, details, reason=failure.reason)
    if output.exit_code != 0:
        return bootstrap_failure(config, output, secrets, drush, requirements)
    if requirements is None:
        cut = f", output cut at {format_size(config.max_output_bytes)}"
        summary = f"drush printed no requirements JSON{cut if output.stdout_truncated else ''}"
        reason = drupal_text.error_line(output, secrets)
        summary += f": {reason}" if reason else ""
        details = {"drush": {**drush, **drupal_text.output_tails(output, secrets)}}
        return Result(Status.CRITICAL, drupal_text.capped(summary), details, reason=Reason.DRUSH)
    drush["notice_lines_before_json"] = requirements.noise_lines
    if not requirements.rows and not filters_by_severity(config.arguments):
        return empty_report(output, secrets, drush)
    return graded_requirements(config, requirements, secrets, drush)


def filters_by_severity(arguments: tuple[str, ...]) -> bool:
    """``--severity=1``: rows below it are left out, so none at all can be a good answer."""
    return any(word == "--severity" or word.startswith("--severity=") for word in arguments)


def empty_report(output: CommandOutput, secrets: list[str], drush: dict[str, Any]) -> Result:
    """``[]``: every Drupal site has requirements (PHP, database, cron), so an empty report
    means the command did not reach them (Drush 13.6 on Drupal 12, where hook_requirements is
    gone): the site cannot be judged, which is not OK."""
    reason = drupal_text.error_line(output, secrets)
    summary = (
        "drush reported no requirements: the status report came back empty "
        "(a Drush/Drupal version mismatch does this)"
    )
    details = {
        "requirements": 0,
        "drush": {**drush, **drupal_text.output_tails(output, secrets)},
    }
    summary = f"{summary}: {reason}" if reason else summary
    return Result(Status.UNKNOWN, summary, details, reason=Reason.DRUSH)


def bootstrap_failure(
    config: DrupalProbe,
    output: CommandOutput,
    secrets: list[str],
    drush: dict[str, Any],
    requirements: Requirements | None,
) -> Result:
    """Non-zero exit: Drupal did not bootstrap. The last lines of stderr say why, redacted."""
    tails = drupal_text.output_tails(output, secrets)
    last = tails.get("stderr_tail", [])
    # A PHP fatal error or an exception states its reason first; the last line is a trace frame.
    reason = drupal_text.error_line(output, secrets) or drupal_text.last_plain_line(last)
    reason = reason or "no message on stderr"
    summary = f"drush failed (exit {output.exit_code}): {reason}"
    details: dict[str, Any] = {"drush": {**drush, **tails}}
    samples: tuple[Sample, ...] = ()
    if requirements is not None:  # what it printed before failing is still worth showing
        graded = graded_requirements(config, requirements, secrets, drush)
        details = {**graded.details, **details}
        samples = graded.samples
    capped = drupal_text.capped(summary)
    part = sqlstate(reason)
    return Result(Status.CRITICAL, capped, details, samples, reason=Reason.DRUSH, part=part)


_SQLSTATE = re.compile(r"SQLSTATE\[[0-9A-Z]{5}\](?: \[\d{1,5}\])?")


def sqlstate(text: str) -> str:
    """``SQLSTATE[HY000] [2002]``: the database error class and code of a failed bootstrap, a
    bounded name an alert can carry (the message around it is not)."""
    found = _SQLSTATE.search(text)
    return found.group(0) if found else ""


def graded_requirements(
    config: DrupalProbe, requirements: Requirements, secrets: list[str], drush: dict[str, Any]
) -> Result:
    verdict: Grade = grade(requirements.rows, config.ignore, config.severity_overrides)
    details: dict[str, Any] = {
        "requirements": len(requirements.rows),
        "errors": len(verdict.errors),
        "warnings": len(verdict.warnings),
        **problem_details(verdict, lambda text: drupal_text.scrub(text, secrets)),
        "drush": drush,
    }
    if requirements.malformed_rows:
        details["malformed_rows"] = requirements.malformed_rows
    samples, cut = requirement_samples(requirements, verdict, config.max_requirement_series)
    if cut:
        details["requirement_series_cut"] = cut
    summary = drupal_text.scrub(summary_of(verdict, len(requirements.rows)), secrets)
    named = [*verdict.errors, *verdict.warnings]
    part = named[0].requirement.id if named else ""
    capped = drupal_text.capped(summary)
    return Result(verdict.status, capped, details, samples, reason=Reason.REQUIREMENT, part=part)


def requirement_samples(
    requirements: Requirements, verdict: Grade, cap: int
) -> tuple[tuple[Sample, ...], int]:
    """A series per graded requirement (the worst first when capped), counts per reported
    severity; how many requirements got no series of their own.

    The series carries the graded severity, so an override in the config is what stops the
    alert on it (an ignored requirement has none); the details keep what Drupal reported."""
    ranked = sorted(verdict.graded, key=lambda g: (-g.sid, g.requirement.id))
    samples = [Sample(REQUIREMENT_SEVERITY.name, g.sid, (g.requirement.id,)) for g in ranked[:cap]]
    counts = Counter(row.sid for row in requirements.rows)
    samples += [
        Sample(REQUIREMENTS.name, counts.get(sid, 0), (name,))
        for sid, name in SEVERITY_NAMES.items()
    ]
    return tuple(samples), max(0, len(ranked) - cap)


# --- drush status, every few hours -------------------------------------------------------------


def status_cache_key(config: DrupalProbe) -> Hashable:
    return (
        "drupal-status",
        config.name,
        config.runner,
        config.drush,
        config.root,
        config.uri,
        tuple(sorted(config.env.items())),
    )


async def refreshed_status(
    config: DrupalProbe,
    context: ProbeContext,
    runner: CommandRunner,
    requirements_output: CommandOutput,
    secrets: list[str],
) -> StatusCache:
    """The probe's cached ``drush status``, asked again if due and the site bootstraps."""
    cache = context.shared(status_cache_key(config), StatusCache)
    bootstrapped = requirements_output.exit_code == 0 and not requirements_output.timed_out
    budget = command_budget(context)
    if not config.status_interval or not cache.due(time.monotonic()) or not bootstrapped:
        return cache
    # It costs about what core-requirements just cost: with less time left, the next run asks.
    if budget < max(MIN_STATUS_BUDGET, 2 * requirements_output.duration):
        return cache
    spec = CommandSpec(
        argv=command_argv(config, config.status_arguments),
        timeout=budget,
        cwd=config.root,
        env=config.env,
        max_output_bytes=min(config.max_output_bytes, 1024 * 1024),
    )
    try:
        output = await runner.run(spec)
        if output.timed_out or output.exit_code != 0:
            ended = "timed out" if output.timed_out else f"exited with {output.exit_code}"
            raise NoStatusJson(f"drush status {ended}")
        fields = await blocking_within(context, status_fields, output.stdout, resource=None)
        cache.succeeded(fields, time.monotonic(), config.status_interval)
    except (CommandUnavailable, NoStatusJson, BlockingTimeout) as error:
        reason = drupal_text.scrub(str(error), secrets)
        cache.failed(reason, time.monotonic(), config.status_interval)
    return cache


def with_status(result: Result, config: DrupalProbe, cache: StatusCache) -> Result:
    """The result with the versions in its details and the info series."""
    if not config.status_interval:
        return result
    versions = cache.versions()
    drupal: dict[str, Any] = dict(cache.fields)
    if cache.checked_at is not None:
        drupal["status_checked_seconds_ago"] = round(time.monotonic() - cache.checked_at)
    if cache.error:
        drupal["status_error"] = cache.error
    details = {**result.details, "drupal": drupal} if drupal else result.details
    samples = result.samples
    if versions is not None:
        samples = (*samples, Sample(INFO.name, 1, versions))
    return dataclasses.replace(result, details=details, samples=samples)


KIND = ProbeKind(config=DrupalProbe, run=run, metrics=(REQUIREMENT_SEVERITY, REQUIREMENTS, INFO))
