"""``site-status windows --argocd``: the AppProject syncWindows pass Argo CD's CRD schema and its
own checks, and Argo CD, reading them, opens and closes exactly when the gate does.

Argo CD's rules, from pkg/apis/application/v1alpha1/types.go (argoproj/argo-cd at 37ee0097):
``SyncWindow.Validate`` wants kind ``allow`` or ``deny``, a schedule its cron parser reads with
the fields minute, hour, day of month, month, day of week, a ``time.ParseDuration`` duration
and a description of at most 255 characters; a window is active at ``now`` when
``schedule.Next(now + offset - duration)`` is before ``now + offset`` (offset: the zone's UTC
offset); syncs are allowed when an allow window is active (or there is none) and no deny window
is.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import yaml
from croniter import croniter

from exporter.schedule import timeline
from exporter.schedule.argocd import sync_windows, sync_windows_yaml
from exporter.schedule.grammar import parse_rule
from tests.k8s.test_manifests import CRDS, strict

SPECS = [
    "mon-thu 10:00-15:00 Europe/Oslo",
    "first wed 18:00-22:00 Europe/Oslo",
    "monthly 15 22:00-02:00 UTC",
    "except 2026-12-21..2027-01-03 Europe/Oslo",
    "except 2026-12-10 12:00-13:00 Europe/Oslo",
]
GENERATED_AT = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
#: Go's time.ParseDuration: a sequence of decimal numbers with a unit each.
GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


def app_project(windows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "sites", "namespace": "argocd"},
        "spec": {"sourceRepos": ["*"], "syncWindows": windows},
    }


def crd_errors(document: dict[str, Any]) -> list[str]:
    schema = yaml.safe_load((CRDS / "appprojects.argoproj.io.v1alpha1.yaml").read_text())
    validator = jsonschema.Draft7Validator(strict(schema))
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def argocd_validate(window: dict[str, Any]) -> None:
    assert window["kind"] in ("allow", "deny")
    assert len(window["schedule"].split()) == 5
    assert croniter.is_valid(window["schedule"])
    assert GO_DURATION.fullmatch(window["duration"])
    assert len(window["description"]) <= 255
    ZoneInfo(window["timeZone"])


def go_duration(text: str) -> timedelta:
    units = {"h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", text)))


def active(window: dict[str, Any], now: datetime) -> bool:
    """SyncWindow.active, with the zone's offset at ``now``."""
    offset = now.astimezone(ZoneInfo(window["timeZone"])).utcoffset()
    assert offset is not None
    shifted = (now + offset).replace(tzinfo=None)
    start = croniter(window["schedule"], shifted - go_duration(window["duration"]))
    following: datetime = start.get_next(datetime)
    return following < shifted


def argocd_allows(windows: list[dict[str, Any]], now: datetime) -> bool:
    allows = [w for w in windows if w["kind"] == "allow"]
    denies = [w for w in windows if w["kind"] == "deny"]
    allowed = not allows or any(active(w, now) for w in allows)
    return allowed and not any(active(w, now) for w in denies)


def test_the_generated_windows_pass_the_crd_schema_and_argocds_checks() -> None:
    document = yaml.safe_load(sync_windows_yaml(SPECS, GENERATED_AT))
    project = app_project(document["syncWindows"])
    assert crd_errors(project) == []
    for window in document["syncWindows"]:
        argocd_validate(window)
    broken = copy.deepcopy(project)
    broken["spec"]["syncWindows"][0]["duration"] = 5
    broken["spec"]["syncWindows"][0]["timezone"] = "UTC"
    errors = crd_errors(broken)
    assert any("syncWindows.0.duration: 5 is not of type 'string'" in e for e in errors)
    assert any("'timezone' was unexpected" in e for e in errors)


def test_argocd_opens_and_closes_when_the_gate_does() -> None:
    windows = sync_windows(SPECS, GENERATED_AT).windows
    kinds = [(w["kind"], w["schedule"]) for w in windows]
    assert ("allow", "0 10 * * 1,2,3,4") in kinds
    assert ("allow", "0 18 2 12 *") in kinds  # first Wednesday of December 2026
    assert ("deny", "0 0 21 12 *") in kinds
    rules = [parse_rule(spec) for spec in SPECS]
    # Every 127 minutes over the horizon (no daylight saving change in it in Oslo), off the
    # edges (Argo CD's Next is strictly after, so it opens an instant after the start), and a
    # minute either side of both edges of every opening.
    end = GENERATED_AT + timedelta(days=75)
    moments = [GENERATED_AT + timedelta(minutes=7 + 127 * n) for n in range(75 * 24 * 60 // 127)]
    for opening in timeline.openings(rules, GENERATED_AT, end):
        moments += [opening.start + timedelta(minutes=1), opening.end - timedelta(minutes=1)]
        moments += [opening.start - timedelta(minutes=1), opening.end + timedelta(minutes=1)]
    for moment in moments:
        assert argocd_allows(windows, moment) == timeline.covers(rules, moment), moment
    assert sum(timeline.covers(rules, moment) for moment in moments) > 100


def test_dated_entries_say_when_to_generate_again() -> None:
    text = sync_windows_yaml(["first wed 18:00-22:00 Europe/Oslo"], GENERATED_AT)
    assert "generate again before 2027-03-01" in text
    assert "generate again" not in sync_windows_yaml(["mon-thu 10:00-15:00"], GENERATED_AT)
