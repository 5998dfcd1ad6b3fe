"""End to end on loopback: exporters -> Prometheus (the shipped rules) -> Alertmanager -> webhook.

Four real exporters watch four sites; a real Prometheus scrapes them every second and evaluates
the shipped rules rendered with short ``for`` (2 s) and state intervals (1 s); a real
Alertmanager routes with the shipped routing rendered with short group timings and webhook
receivers on loopback:

- shop (priprod): healthz turns failing -> the pager gets SiteStatusSiteCritical within
  PAGE_BOUND seconds; healthz recovers -> the pager gets it resolved;
- campus (flexprod): healthz fails from the start; the alert fires in Prometheus, but outside
  office hours nothing is sent. "Outside" is made deterministic: the test's office-hours interval
  is the weekday three days from today (UTC), and its weekly maintenance slot the day after;
- library (priprod): fails inside a maintenance window of its config (``site.maintenance``): the
  rule is muted, so there is no alert and no page;
- intranet (besteffort): a drupal probe with errors: the team chat gets it, the pager never.

While they fail, every PromQL expression of every dashboard panel runs against that Prometheus.

The second test is a fleet: 12 priprod exporters whose healthz share one backend, and one more
site with its own. The lone site fails: it is paged by itself. The shared backend fails: one
page, SiteStatusFleetCritical listing the sites, and not one SiteStatusSiteCritical page for
them (the per-site pages are inhibited; the rules run with a fleet ``for`` shorter than the
per-site one, as shipped).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import ssl
import time
from pathlib import Path
from typing import Any

import trustme
import yaml

from mixin.alertmanager import AlertmanagerSettings, alertmanager_config
from mixin.config import MixinConfig, ServiceLevels
from tests.mixin.dashboard_queries import all_of, dashboards, interpolate, panels
from tests.support.exporter_process import REPO, RunningExporter, running_exporter, wait_until
from tests.support.http_server import MisbehavingServer, misbehaving_server
from tests.support.loki_double import loki_double
from tests.support.monitoring import (
    Prometheus,
    WebhookReceiver,
    http_json,
    running_alertmanager,
    running_prometheus,
    webhook_receiver,
    write_rule_files,
)

#: From healthz failing to the page arriving. Expected ~6-10 s: probe 1 s, scrape 1 s,
#: evaluation 1 s, for 2 s, group_wait 1 s, plus jitter; generous for a loaded 2-core machine.
PAGE_BOUND = 30.0
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DRUSH_FIXTURES = REPO / "tests" / "probes" / "fixtures" / "drush"


def weekday_from_today(days: int) -> str:
    today = datetime.datetime.now(datetime.UTC).weekday()
    return WEEKDAYS[(today + days) % 7]


def alertmanager_settings(receiver: WebhookReceiver) -> AlertmanagerSettings:
    return AlertmanagerSettings(
        pager_url=receiver.url("pager"),
        chat_url=receiver.url("team-chat"),
        group_wait="1s",
        group_interval="2s",
        repeat_interval="1h",
        pager_repeat_interval="1h",
        office_hours=[{"weekdays": [weekday_from_today(3)], "location": "UTC"}],
        weekly_maintenance=[{"weekdays": [weekday_from_today(4)], "location": "UTC"}],
    )


#: Burn-rate windows are hours and days: squeezed into seconds they would fire on any outage.
#: They are tested with promtool (tests/mixin/test_error_budget.py); here no tier has a target.
NO_TARGETS = ServiceLevels(tiers={})


def write_rules(workdir: Path) -> list[Path]:
    config = MixinConfig(state_interval="1s", window_interval="1s", service_levels=NO_TARGETS)
    config = config.with_all_for("2s")
    return write_rule_files(workdir, config)


def site_config(
    workdir: Path,
    name: str,
    tier: str,
    probes: list[dict[str, Any]],
    reports: dict[str, Any] | None = None,
    **site: Any,
) -> Path:
    directory = workdir / name
    directory.mkdir()
    config = {
        "site": {"name": name, "environment": "e2e", "tier": tier, "profile": "os2web", **site},
        "reports": reports or {"file": str(directory / "reports.jsonl")},
        "defaults": {"interval": "1s", "timeout": "900ms"},
        "probes": probes,
    }
    path = directory / "site.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def healthz(server: MisbehavingServer, path: str) -> dict[str, Any]:
    return {"name": "frontpage", "kind": "http", "url": server.url(path)}


def shop_probes(
    workdir: Path, plain: MisbehavingServer, tls: MisbehavingServer, ca: Path
) -> list[dict[str, Any]]:
    never = {"warning": 99.8, "critical": 99.9}
    return [
        healthz(plain, "/healthz"),
        {"name": "tls-frontpage", "kind": "http", "url": tls.url("/healthz"), "ca_file": str(ca)},
        {
            "name": "data-disk",
            "kind": "disk",
            "path": str(workdir),
            "used_percent": never,
            "inodes_used_percent": never,
        },
        {"name": "load", "kind": "load", "load5": {"warning": 50, "critical": 100}},
        {"name": "root-mount", "kind": "mount", "mountpoints": ["/"], "expect_writable": False},
    ]


def drupal_probe() -> dict[str, Any]:
    return {
        "name": "drupal",
        "kind": "drupal",
        "interval": "5s",
        "timeout": "4s",
        "drush": [str(REPO / "tests" / "support" / "drush")],
        "env": {
            "DRUSH_STANDIN_REQUIREMENTS": str(DRUSH_FIXTURES / "drush13-requirements.json"),
            "DRUSH_STANDIN_STATUS": str(DRUSH_FIXTURES / "status.json"),
        },
    }


def site_status(prometheus: Prometheus, site: str) -> float | None:
    result = prometheus.query(
        "site_status_site_status * on(job, instance) group_left "
        f'site_status_site_info{{site="{site}"}}'
    )
    return float(result[0]["value"][1]) if result else None


def firing_in_prometheus(prometheus: Prometheus, alertname: str, site: str) -> bool:
    return any(
        alert["labels"].get("alertname") == alertname
        and alert["labels"].get("site") == site
        and alert["state"] == "firing"
        for alert in prometheus.alerts()
    )


def test_pages_priprod_waits_for_office_hours_mutes_maintenance_and_resolves(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(tls_context)
    now = datetime.datetime.now(datetime.UTC)
    window = {
        "start": (now - datetime.timedelta(hours=1)).isoformat(),
        "end": (now + datetime.timedelta(hours=1)).isoformat(),
        "reason": "e2e",
    }
    # Coming up within 7 days: the fleet dashboard's maintenance panel lists it.
    following = {
        "start": (now + datetime.timedelta(days=2)).isoformat(),
        "end": (now + datetime.timedelta(days=2, hours=1)).isoformat(),
        "reason": "e2e next",
    }

    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(misbehaving_server())
        tls = stack.enter_context(misbehaving_server(tls_context))
        plain.route("/healthz", status=200, body="ok")
        plain.route("/down", status=503, body="database unreachable")
        tls.route("/healthz", status=200, body="ok")
        receiver = stack.enter_context(webhook_receiver())
        loki = stack.enter_context(loki_double())
        # shop reports to Loki; its first push is rejected, so every delivery series has data.
        loki.respond_with(400, times=1)
        shop_reports = {
            "loki": {
                "url": loki.url,
                "batch_max_wait": "200ms",
                "spool": {"directory": str(tmp_path / "shop-spool")},
            }
        }
        alertmanager = stack.enter_context(
            running_alertmanager(tmp_path, alertmanager_config(alertmanager_settings(receiver)))
        )
        configs = {
            "shop": site_config(
                tmp_path,
                "shop",
                "priprod",
                shop_probes(tmp_path, plain, tls, ca_path),
                shop_reports,
            ),
            "campus": site_config(tmp_path, "campus", "flexprod", [healthz(plain, "/down")]),
            "library": site_config(
                tmp_path,
                "library",
                "priprod",
                [healthz(plain, "/down")],
                maintenance=[window, following],
            ),
            "intranet": site_config(tmp_path, "intranet", "besteffort", [drupal_probe()]),
        }
        exporters: dict[str, RunningExporter] = {}
        for site, config in configs.items():
            exporters[site] = stack.enter_context(running_exporter(config, tmp_path / site))
        prometheus = stack.enter_context(
            running_prometheus(
                tmp_path,
                [e.url.removeprefix("http://") for e in exporters.values()],
                write_rules(tmp_path),
                alertmanager,
                interval="1s",
            )
        )
        wait_until(lambda: prometheus.targets_up() == 4, timeout=30, interval=0.5)
        wait_until(lambda: site_status(prometheus, "shop") == 0.0, timeout=30, interval=0.5)
        assert receiver.alerts_to("pager", site="shop") == []

        # shop's healthz fails: the pager is called within the bound.
        plain.route("/healthz", status=503, body="database unreachable")
        failed_at = time.monotonic()
        page = wait_until(
            lambda: receiver.alerts_to("pager", site="shop", alertname="SiteStatusSiteCritical"),
            timeout=PAGE_BOUND + 15,
            interval=0.2,
        )
        received_at, state, alert = page[0]
        latency = received_at - failed_at
        print(f"page after {latency:.1f} s (bound {PAGE_BOUND} s), load {os.getloadavg()}")
        assert latency < PAGE_BOUND
        assert state == "firing"
        assert alert["labels"]["tier"] == "priprod" and alert["labels"]["severity"] == "critical"
        assert "frontpage" in alert["annotations"]["description"]
        assert alert["annotations"]["runbook_url"].endswith("/SiteStatusSiteCritical.md")

        # campus fires in Prometheus but waits for office hours; library is muted by its window;
        # intranet (besteffort) goes to the team chat, never to the pager.
        assert firing_in_prometheus(prometheus, "SiteStatusSiteCritical", "campus")
        held = http_json(f"http://{alertmanager}/api/v2/alerts?filter=site%3D%22campus%22")
        assert [a["labels"]["alertname"] for a in held] == ["SiteStatusSiteCritical"]
        wait_until(
            lambda: receiver.alerts_to(
                "team-chat", site="intranet", alertname="SiteStatusSiteCritical"
            ),
            timeout=30,
            interval=0.2,
        )
        time.sleep(5)  # more than two group intervals after everything fired
        assert receiver.alerts_for_site("campus") == []
        # library's window mutes everything but its announcement, which goes to the chat.
        assert {
            (to, alert["labels"]["alertname"]) for to, alert in receiver.alerts_for_site("library")
        } <= {("team-chat", "SiteStatusMaintenance")}
        in_prometheus = [a for a in prometheus.alerts() if a["labels"].get("site") == "library"]
        assert {a["labels"]["alertname"] for a in in_prometheus} <= {"SiteStatusMaintenance"}
        assert receiver.alerts_to("pager", site="intranet") == []

        check_dashboard_queries(prometheus, exporters)
        # The fields the dashboards' LogQL line_format reads (after | json) are in the reports.
        transitions = [r for r in loki.reports() if r["report_type"] == "transition"]
        assert transitions and {"name", "kind"} <= transitions[0]["probe"].keys()
        assert {"previous_status", "status", "summary"} <= transitions[0].keys()
        assert transitions[0]["site"]["name"] == "shop"
        # The fleet dashboard's $profile filter reads site.profile (`| json`: site_profile).
        assert transitions[0]["site"]["profile"] == "os2web"

        # Recovery resolves the page.
        plain.route("/healthz", status=200, body="ok")
        recovered_at = time.monotonic()
        resolved = wait_until(
            lambda: [
                a
                for a in receiver.alerts_to(
                    "pager", site="shop", alertname="SiteStatusSiteCritical"
                )
                if a[1] == "resolved"
            ],
            timeout=PAGE_BOUND + 15,
            interval=0.2,
        )
        print(f"resolved after {resolved[0][0] - recovered_at:.1f} s")
        assert resolved[0][0] - recovered_at < PAGE_BOUND


#: Four times the fleet alert's three sites (fleet_min_sites): enough to show the storm is one
#: page; each site is a whole exporter process, so more only costs time.
STORM_SITES = 12


def fleet_rules(workdir: Path) -> list[Path]:
    """The shipped rules with short durations, in the shipped order: fleet ``for`` first."""
    fast = MixinConfig(
        state_interval="1s",
        window_interval="1s",
        fleet_keep_firing_for="5s",
        service_levels=NO_TARGETS,
    )
    fast = fast.with_all_for("5s")
    config = fast.model_copy(update={"for_": fast.for_.model_copy(update={"fleet_critical": "1s"})})
    return write_rule_files(workdir, config)


def pager_pages(receiver: WebhookReceiver) -> dict[str, list[dict[str, Any]]]:
    """groupKey -> alerts of the pager's first firing notification of that group."""
    found: dict[str, list[dict[str, Any]]] = {}
    for notification in receiver.received():
        if notification.receiver == "pager" and notification.body["status"] == "firing":
            found.setdefault(notification.body["groupKey"], notification.alerts())
    return found


def test_a_shared_failure_pages_once_listing_the_sites_and_a_lone_failure_pages_alone(
    tmp_path: Path,
) -> None:
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(misbehaving_server())
        backend.route("/shared", status=200, body="ok")
        backend.route("/own", status=200, body="ok")
        receiver = stack.enter_context(webhook_receiver())
        alertmanager = stack.enter_context(
            running_alertmanager(tmp_path, alertmanager_config(alertmanager_settings(receiver)))
        )
        names = [f"site{n:02d}" for n in range(1, STORM_SITES + 1)]
        started = time.monotonic()
        exporters = [
            stack.enter_context(
                running_exporter(
                    site_config(tmp_path, name, "priprod", [healthz(backend, "/shared")]),
                    tmp_path / name,
                )
            )
            for name in names
        ]
        shop_config = site_config(tmp_path, "shop", "priprod", [healthz(backend, "/own")])
        exporters.append(stack.enter_context(running_exporter(shop_config, tmp_path / "shop")))
        print(f"{len(exporters)} exporters started in {time.monotonic() - started:.1f} s")
        prometheus = stack.enter_context(
            running_prometheus(
                tmp_path,
                [e.url.removeprefix("http://") for e in exporters],
                fleet_rules(tmp_path),
                alertmanager,
                interval="1s",
            )
        )
        wait_until(lambda: prometheus.targets_up() == len(exporters), timeout=60, interval=0.5)
        wait_until(
            lambda: len(prometheus.query("site_status_site_status == 0")) == len(exporters),
            timeout=60,
            interval=0.5,
        )

        # shop fails alone: its own page, no fleet alert.
        backend.route("/own", status=503, body="disk full")
        failed_at = time.monotonic()
        wait_until(lambda: pager_pages(receiver), timeout=PAGE_BOUND + 15, interval=0.2)
        (page,) = pager_pages(receiver).values()
        print(f"lone site paged after {time.monotonic() - failed_at:.1f} s")
        assert [(a["labels"]["alertname"], a["labels"]["site"]) for a in page] == [
            ("SiteStatusSiteCritical", "shop")
        ]
        backend.route("/own", status=200, body="ok")
        wait_until(lambda: not prometheus.alerts(), timeout=30, interval=0.2)
        before_storm = set(pager_pages(receiver))

        # The shared backend fails: STORM_SITES sites at once.
        backend.route("/shared", status=503, body="database unreachable")
        failed_at = time.monotonic()

        def storm_pages() -> dict[str, list[dict[str, Any]]]:
            return {k: v for k, v in pager_pages(receiver).items() if k not in before_storm}

        wait_until(storm_pages, timeout=PAGE_BOUND + 15, interval=0.2)
        print(f"fleet paged after {time.monotonic() - failed_at:.1f} s")
        # Every per-site alert fires in Prometheus, and is held back in Alertmanager.
        wait_until(
            lambda: (
                len(
                    [
                        a
                        for a in prometheus.alerts()
                        if a["labels"]["alertname"] == "SiteStatusSiteCritical"
                        and a["state"] == "firing"
                    ]
                )
                == STORM_SITES
            ),
            timeout=60,
            interval=0.5,
        )
        time.sleep(5)  # more than two group intervals after the last of them fired
        (page,) = storm_pages().values()
        (fleet,) = page
        assert fleet["labels"]["alertname"] == "SiteStatusFleetCritical"
        assert fleet["labels"]["tier"] == "priprod"
        listed = re.findall(r"(site\d\d) \(e2e\)", fleet["annotations"]["description"])
        assert len(listed) >= 3 and set(listed) <= set(names)
        # Prometheus keeps the list current: all of them, as the alert shows it now.
        (current,) = [
            a for a in prometheus.alerts() if a["labels"]["alertname"] == "SiteStatusFleetCritical"
        ]
        assert re.findall(r"(site\d\d) \(e2e\)", current["annotations"]["description"]) == names
        paged_sites = {
            alert["labels"]["site"]
            for _, _, alert in receiver.alerts_to("pager", alertname="SiteStatusSiteCritical")
        }
        assert paged_sites == {"shop"}


def check_dashboard_queries(prometheus: Prometheus, exporters: dict[str, RunningExporter]) -> None:
    """Every PromQL expression of every panel returns data (for at least one of the sites)."""
    # Grafana's $__interval follows the time range; here Prometheus holds seconds of data.
    short = {"__interval": "1s", "__range": "1m"}
    choices = {
        "site-status-fleet.json": [
            {"cluster": ".*", "environment": ".*", "tier": ".*", "profile": ".*", **short}
        ],
        # One Prometheus, no external labels: $cluster has no options, and Grafana's value is "".
        "site-status-site.json": [
            {"cluster": "", "environment": "e2e", "site": site, **short} for site in exporters
        ],
    }
    checked, without_data = 0, []
    for name, document in dashboards().items():
        for variable in document["templating"]["list"]:
            if variable["type"] == "query" and variable["name"] != "cluster":
                check_variable_query(prometheus, variable["query"]["query"], choices[name][0])
                for values in choices[name]:
                    if variable["name"] not in values:  # derived (hidden) variables: All
                        found = variable_values(prometheus, variable["query"]["query"], values)
                        values[variable["name"]] = all_of(found)
        for panel in panels(document):
            for target in panel.get("targets", []):
                if target["datasource"]["type"] != "prometheus":
                    continue
                checked += 1
                expr = target["expr"]
                results = [prometheus.query(interpolate(expr, values)) for values in choices[name]]
                if not any(results):
                    without_data.append((panel["title"], expr))
    assert checked >= 30
    assert without_data == []
    print(f"{checked} dashboard queries, all with data")


def check_variable_query(prometheus: Prometheus, query: str, values: dict[str, str]) -> None:
    assert variable_values(prometheus, query, values), query


def variable_values(prometheus: Prometheus, query: str, values: dict[str, str]) -> list[str]:
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
    assert match, query
    selector, label = match.groups()
    return prometheus.label_values(label, interpolate(selector, values))
