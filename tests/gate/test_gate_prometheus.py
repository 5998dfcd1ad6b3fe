"""``site-status gate --prometheus``: many real exporters through Debian's Prometheus."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from tests.gate.conftest import gate, maintenance_now, running_site
from tests.support.analysis_template import analysis_query, shipped_template
from tests.support.exporter_process import free_port, wait_until
from tests.support.monitoring import Prometheus, running_prometheus


def site_states(prometheus: Prometheus) -> dict[str, float]:
    return {
        sample["metric"]["site"]: float(sample["value"][1])
        for sample in prometheus.query(
            "site_status_site_status * on(instance) group_left(site) site_status_site_info"
        )
    }


def analysis_result(prometheus: Prometheus, **args: str) -> list[float]:
    """What the site-status-prometheus AnalysisTemplate's query returns with ``args``."""
    query = analysis_query(shipped_template(), **args)
    return [float(s["value"][1]) for s in prometheus.query(query)]


def test_many_sites_through_prometheus_name_the_failing_and_the_missing(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        shop = stack.enter_context(running_site(tmp_path, "shop"))
        campus = stack.enter_context(running_site(tmp_path, "campus"))
        library = stack.enter_context(running_site(tmp_path, "library"))
        intranet = stack.enter_context(running_site(tmp_path, "intranet", tier="flexprod"))
        museum = stack.enter_context(
            running_site(tmp_path, "museum", maintenance=maintenance_now())
        )
        exporters = [s.exporter for s in (shop, campus, library, intranet, museum)]
        prometheus = stack.enter_context(
            running_prometheus(
                tmp_path,
                [e.url.removeprefix("http://") for e in exporters],
                [],
                f"127.0.0.1:{free_port()}",
                interval="1s",
            )
        )
        campus.fail()
        museum.fail()
        wait_until(
            lambda: (
                site_states(prometheus).get("campus") == 2.0
                and site_states(prometheus).get("museum") == 2.0
                and len(site_states(prometheus)) == 5
            ),
            timeout=40,
            interval=0.5,
        )
        library.exporter.process.kill()
        wait_until(lambda: "library" not in site_states(prometheus), timeout=30, interval=0.5)

        url = prometheus.url
        priprod = gate("--prometheus", url, "--match", 'tier="priprod", environment="prod"')
        allowed = gate("--prometheus", url, "--match", 'tier="priprod"', "--allow-missing")
        flexprod = gate("--prometheus", url, "--match", 'tier="flexprod"')
        in_maintenance = gate("--prometheus", url, "--match", 'site="museum"')
        as_json = gate("--prometheus", url, "--match", 'tier="priprod"', "--format", "json")
        bad_match = gate("--prometheus", url, "--match", "tier=priprod")
        injected = gate("--prometheus", url, "--match", 'tier="x"} or vector(0) or {a="')
        typo = gate("--prometheus", url, "--match", 'tier="prioprod"')
        typo_allowed = gate("--prometheus", url, "--match", 'tier="prioprod"', "--allow-empty")
        analysis = {
            site: analysis_result(prometheus, site=site) for site in ("shop", "campus", "library")
        }
    unreachable = gate("--prometheus", url, "--timeout", "2s")

    assert priprod.returncode == 1, priprod.stdout + priprod.stderr
    first, *lines = priprod.stdout.splitlines()
    assert first == "GATE FAIL - 2 of 4 site(s) above OK: campus, library"
    assert lines[0] == "campus CRITICAL - release-marker CRITICAL"
    assert lines[1].startswith("library MISSING - no current data (seen within 60m")
    assert lines[2].startswith("museum CRITICAL - release-marker CRITICAL (in maintenance")

    assert allowed.returncode == 1
    assert allowed.stdout.splitlines()[0] == "GATE FAIL - 1 of 4 site(s) above OK: campus"
    assert flexprod.returncode == 0, flexprod.stdout
    assert flexprod.stdout.splitlines() == ["GATE OK - 1 site(s) at most OK"]
    assert in_maintenance.returncode == 0, in_maintenance.stdout

    document = json.loads(as_json.stdout)
    assert document["exit_code"] == 1
    by_site = {site["site"]: site for site in document["sites"]}
    assert by_site["library"]["missing"] is True
    assert by_site["campus"]["failing_probes"] == [
        {"name": "release-marker", "status": "CRITICAL", "summary": ""}
    ]
    assert by_site["museum"]["maintenance"] is True

    # The Argo Rollouts template's query gives each site's rollup, and nothing for a missing one.
    assert analysis == {"shop": [0.0], "campus": [2.0], "library": []}

    # Matchers are parsed, never pasted into the query (finding 4).
    assert bad_match.returncode == 2
    assert "--match: not a label matcher list: the value must be quoted" in bad_match.stderr
    assert injected.returncode == 2, injected.stdout
    assert "--match: not a label matcher list: expected ','" in injected.stderr
    # A match of no site fails, unless that is asked for (finding 4).
    assert typo.returncode == 1, typo.stdout
    assert typo.stdout.splitlines() == [
        f'GATE FAIL - no site matched {url} {{tier="prioprod"}} '
        "(a typo in --match? --allow-empty passes an empty match)"
    ]
    assert typo_allowed.returncode == 0
    assert typo_allowed.stdout.splitlines() == ["GATE OK - 0 site(s) at most OK"]
    assert unreachable.returncode == 3
    assert unreachable.stdout.startswith(f"GATE UNKNOWN - cannot reach {url}/api/v1/query")


def test_another_target_cannot_excuse_a_site_by_publishing_its_name(tmp_path: Path) -> None:
    """Finding 3: maintenance was keyed by the ``site`` label alone, so any scrape target that
    published ``site_status_maintenance 1`` under a failing site's name excused it (exit 0).
    Here a second real exporter calls itself "campus" and declares maintenance."""
    (tmp_path / "other").mkdir()
    with contextlib.ExitStack() as stack:
        campus = stack.enter_context(running_site(tmp_path, "campus"))
        impostor = stack.enter_context(
            running_site(tmp_path / "other", "campus", maintenance=maintenance_now())
        )
        targets = [s.exporter.url.removeprefix("http://") for s in (campus, impostor)]
        prometheus = stack.enter_context(
            running_prometheus(tmp_path, targets, [], f"127.0.0.1:{free_port()}", interval="1s")
        )
        campus.fail()

        def both_scraped() -> bool:
            states = prometheus.query("site_status_site_status")
            return sorted(float(s["value"][1]) for s in states) == [0.0, 2.0] and bool(
                prometheus.query("site_status_maintenance == 1")
            )

        wait_until(both_scraped, timeout=40, interval=0.5)
        result = gate("--prometheus", prometheus.url, "--match", 'site="campus"')
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "GATE FAIL - 1 of 1 site(s) above OK: campus",
        "campus CRITICAL - release-marker CRITICAL",
    ]
