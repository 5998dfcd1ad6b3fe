"""Parsing every shape of ``drush core-requirements --format=json``, and grading it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.status import Status
from probes.drupal.drush_requirements import (
    NoRequirementsJson,
    Requirement,
    parse_requirements,
    plain_text,
    sid_of,
)
from probes.drupal.drush_status import StatusCache, status_fields
from probes.drupal.grading import grade, summary_of

FIXTURES = Path(__file__).parent / "fixtures" / "drush"


def rows(name: str) -> dict[str, Requirement]:
    return {row.id: row for row in parse_requirements((FIXTURES / name).read_bytes()).rows}


def test_drush_13_object_keyed_by_id_keeps_ids_with_spaces_dots_and_schemes() -> None:
    found = rows("drush13-requirements.json")
    assert len(found) == 20
    assert {"file system", "settings.php", "public://.htaccess"} <= found.keys()
    assert found["cron"].sid == 2 and found["cron"].title == "Cron maintenance tasks"
    assert found["update_contrib"].severity == "warning"
    assert found["drupal"].sid == -1
    # Drush's own plain-text markup stays; paragraphs become one line.
    assert "*security update*" in found["update_core"].description
    assert "\n" not in found["cron"].description


def test_drush_11_missing_severity_and_description() -> None:
    found = rows("drush11-requirements.json")
    assert found["redis"].sid == -1 and found["redis"].description == ""
    assert found["update_core"].sid == 1


def test_drush_10_list_takes_titles_for_ids_and_strips_html() -> None:
    found = rows("drush10-list.json")
    assert list(found) == [
        "Drupal",
        "PHP",
        "Trusted Host Settings",
        "Search index progress",
        "Module and theme update status",
    ]
    assert found["PHP"].value == "7.4.33 (more information)"
    trusted = found["Trusted Host Settings"]
    assert trusted.value == "Not enabled"
    assert "<" not in trusted.description and "alert(1)" not in trusted.description
    assert "security vulnerabilities. It is highly recommended" in trusted.description
    assert found["Search index progress"].value == "42% (1337 remaining)"


def test_drush_10_gapped_object_is_rows_not_ids() -> None:
    found = rows("drush10-gapped.json")
    assert list(found) == ["Trusted Host Settings", "Module and theme update status"]
    assert [row.sid for row in found.values()] == [2, 1]


def test_empty_result() -> None:
    parsed = parse_requirements(b"[]\n")
    assert parsed.rows == () and parsed.noise_lines == 0


def test_drupal_11_2_severities_as_strings_and_labels() -> None:
    found = rows("drupal112-requirements.json")
    assert found["cron"].sid == 0  # "0"
    assert found["update_core"].sid == 2  # sid "Error", no severity
    assert found["update_contrib"].sid == 1  # "warning"
    assert found["opcache_jit"].sid == -1  # "-1"
    assert found["search_api_solr"].sid == -1  # neither: info
    mystery = found["mystery"]
    assert mystery.sid == 1 and mystery.severity_note == "unrecognized severity 'catastrophic'"


@pytest.mark.parametrize(
    ("raw", "sid"),
    [
        (2, 2),
        (-1, -1),
        (1.0, 1),
        ("2", 2),
        (" -1 ", -1),
        ("Error", 2),
        ("OK", 0),
        ("REQUIREMENT_WARNING", 1),
        ("info", -1),
        (3, None),
        ("7", None),
        (True, None),
        ("", None),
        ({"value": 2}, None),
    ],
)
def test_sid_forms(raw: object, sid: int | None) -> None:
    assert sid_of(raw) == sid


def test_notices_before_and_after_the_json_are_skipped() -> None:
    parsed = parse_requirements((FIXTURES / "noise-before-json.txt").read_bytes())
    assert [row.id for row in parsed.rows] == ["cron", "update_contrib"]
    assert parsed.noise_lines == 4


def test_a_json_object_inside_a_notice_is_not_taken_for_the_answer() -> None:
    text = b'{"x": 1}\n[warning] {"y": 2}\n[]\n'
    assert parse_requirements(text).rows == ()


@pytest.mark.parametrize(
    "stdout",
    [
        (FIXTURES / "garbage.txt").read_bytes(),
        b"",
        b'"just a string"',
        b'{"cron": {"title": "Cron", "sid": 0',  # cut short
        (FIXTURES / "status.json").read_bytes(),
    ],
)
def test_no_requirements_json(stdout: bytes) -> None:
    with pytest.raises(NoRequirementsJson):
        parse_requirements(stdout)


def test_rows_that_are_not_objects_are_counted_and_skipped() -> None:
    parsed = parse_requirements(b'[{"title": "A", "sid": 0}, "oops", {"title": "B", "sid": 2}]')
    assert [row.id for row in parsed.rows] == ["A", "B"]
    assert parsed.malformed_rows == 1


def test_duplicate_titles_get_distinct_ids() -> None:
    parsed = parse_requirements(b'[{"title": "Solr", "sid": 0}, {"title": "Solr", "sid": 1}]')
    assert [row.id for row in parsed.rows] == ["Solr", "Solr #2"]


def test_plain_text_strips_markup_entities_and_caps() -> None:
    assert plain_text("<p>A &amp; B</p><p>C</p>", 100) == "A & B C"
    assert plain_text({"#markup": "<em>x</em>", "#type": "item"}, 100) == "x"
    assert plain_text(["a", 1, None, True], 100) == "a 1"
    assert plain_text("\x1b[31mred\x1b[0m\x00", 100) == "red"
    long = plain_text("word " * 1000, 50)
    assert len(long) == 50 and long.endswith("…")
    assert plain_text("a < b and c > d", 100) == "a < b and c > d"


def requirement(rid: str, sid: int, title: str | None = None) -> Requirement:
    return Requirement(rid, title or rid.title(), "value", "", sid)


def test_grade_worst_wins_with_ignore_and_overrides() -> None:
    report = [
        requirement("cron", 0),
        requirement("update_core", 1),
        requirement("update_contrib", 2),
        requirement("trusted_host_patterns", 2, "Trusted Host Settings"),
    ]
    assert grade(report, (), {}).status is Status.CRITICAL
    verdict = grade(
        report,
        ignore=("trusted host settings",),  # by title, any case
        overrides={"update_core": {"warning": "ok"}, "update_contrib": "warning"},
    )
    assert verdict.status is Status.WARNING
    assert verdict.ignored == ("trusted_host_patterns",)
    assert [g.requirement.id for g in verdict.warnings] == ["update_contrib"]
    assert [g.requirement.id for g in verdict.downgraded] == ["update_core"]
    # A security update (error) is not hidden by a warning-only override.
    worse = grade([requirement("update_core", 2)], (), {"update_core": {"warning": "ok"}})
    assert worse.status is Status.CRITICAL


def test_summaries() -> None:
    ok = grade([requirement("a", 0), requirement("b", -1)], ("b",), {})
    assert summary_of(ok, 2) == "2 requirements, no warnings or errors (1 ignored)"
    assert summary_of(grade([], (), {}), 0) == "drush reported no requirements"
    bad = grade([requirement(f"r{i}", 2 if i < 2 else 1) for i in range(5)], (), {})
    assert summary_of(bad, 5) == (
        "2 errors, 3 warnings: R0 (value); R1 (value); R2 (value); 2 more"
    )


def test_status_keeps_versions_and_drops_every_secret() -> None:
    stdout = b"PHP Deprecated: x\n" + (FIXTURES / "status.json").read_bytes()
    fields = status_fields(stdout)
    assert fields == {
        "drupal-version": "10.3.6",
        "php-version": "8.3.12",
        "drush-version": "13.3.1.0",
        "bootstrap": "Successful",
        "db-status": "Connected",
    }
    assert "Sup3rS3cretDbPass" not in json.dumps(fields)


def test_status_cache_asks_again_after_the_interval_or_sooner_after_a_failure() -> None:
    cache = StatusCache()
    assert cache.due(0.0) and cache.versions() is None
    cache.succeeded({"drupal-version": "11.2.0"}, 100.0, 21600.0)
    assert not cache.due(21000.0) and cache.due(21700.0)
    assert cache.versions() == ("11.2.0", "", "")
    cache.failed("drush status exited with 1", 21700.0, 21600.0)
    assert cache.versions() == ("11.2.0", "", "")  # the last good answer stays
    assert cache.due(21700.0 + 1800.0)
