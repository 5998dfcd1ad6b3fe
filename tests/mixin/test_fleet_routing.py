"""The shipped routing in the real Alertmanager: a storm pages once, a lone site pages alone.

Alertmanager (Debian's) runs the shipped config (``alertmanager_config``: routes, grouping,
inhibitions) with second-long group timings and webhook receivers on loopback. Alerts are
posted to its API the way Prometheus posts them (labels, annotations, startsAt, endsAt), in the
order the rules fire them (promtool shows that order in test_fleet_rules.py): the fleet alert
first, the per-site alerts minutes later. A page is a pager notification of a new group (its
``groupKey``): what a pager turns into an incident.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mixin.alertmanager import AlertmanagerSettings, alertmanager_config
from mixin.fleet import FLEET_ALERT
from tests.mixin.test_alertmanager import amtool
from tests.support.exporter_process import wait_until
from tests.support.monitoring import (
    WebhookReceiver,
    http_json,
    running_alertmanager,
    webhook_receiver,
)

GROUP_WAIT = 1.0
GROUP_INTERVAL = 2.0
SETTLE = GROUP_WAIT + 3 * GROUP_INTERVAL  # long enough for any notification that would come


@contextlib.contextmanager
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, WebhookReceiver]]:
    with webhook_receiver() as receiver:
        settings = AlertmanagerSettings(
            pager_url=receiver.url("pager"),
            chat_url=receiver.url("team-chat"),
            group_wait=f"{GROUP_WAIT:g}s",
            group_interval=f"{GROUP_INTERVAL:g}s",
            repeat_interval="1h",
            pager_repeat_interval="1h",
            # Always "office hours", never the maintenance slot: timing is not under test here.
            office_hours=[{"weekdays": ["sunday:saturday"]}],
            weekly_maintenance=[{"months": ["february"], "days_of_month": ["30"]}],
        )
        with running_alertmanager(tmp_path, alertmanager_config(settings)) as address:
            yield address, receiver


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def alert(
    alertname: str, tier: str = "priprod", site: str | None = None, ends_in: float = 3600
) -> dict[str, Any]:
    labels = {"alertname": alertname, "severity": "critical", "tier": tier}
    if site is not None:
        labels |= {
            "site": site,
            "environment": "prod",
            "profile": "os2web",
            "job": "site-status",
            "instance": f"{site}:9918",
        }
    return {
        "labels": labels,
        "annotations": {"summary": f"{site or tier} fails"},
        "startsAt": now().isoformat(),
        "endsAt": (now() + datetime.timedelta(seconds=ends_in)).isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }


def post(address: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"http://{address}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def pages(receiver: WebhookReceiver) -> dict[str, list[dict[str, Any]]]:
    """groupKey -> the firing alerts of the pager's first notification for that group."""
    found: dict[str, list[dict[str, Any]]] = {}
    for notification in receiver.received():
        if notification.receiver == "pager" and notification.body["status"] == "firing":
            found.setdefault(notification.body["groupKey"], notification.alerts())
    return found


def paged_alertnames(receiver: WebhookReceiver) -> list[str]:
    return sorted(
        alert["labels"]["alertname"]
        for group in pages(receiver).values()
        for alert in group
        if alert["status"] == "firing"
    )


def storm(tier: str = "priprod") -> list[dict[str, Any]]:
    """25 sites CRITICAL and 5 whose exporter is down, as a platform release would do it."""
    critical = [alert("SiteStatusSiteCritical", tier, f"site{n:02d}") for n in range(1, 26)]
    down = [alert("SiteStatusExporterDown", tier, f"site{n:02d}") for n in range(26, 31)]
    return critical + down


def test_a_storm_of_30_sites_pages_once(tmp_path: Path) -> None:
    with alertmanager(tmp_path) as (address, receiver):
        post(address, [alert(FLEET_ALERT)])
        wait_until(lambda: pages(receiver), timeout=10, interval=0.1)
        post(address, storm())
        time.sleep(SETTLE)
        assert paged_alertnames(receiver) == [FLEET_ALERT]
        # Every per-site alert is in Alertmanager, inhibited by the fleet alert, not lost.
        held = http_json(f"http://{address}/api/v2/alerts?filter=tier%3D%22priprod%22")
        per_site = [a for a in held if a["labels"]["alertname"] != FLEET_ALERT]
        assert len(per_site) == 30
        assert {a["status"]["state"] for a in per_site} == {"suppressed"}
        assert all(a["status"]["inhibitedBy"] for a in per_site)
        # amtool shows only the fleet alert as active; asked for inhibited ones, the 30 sites.
        url = f"--alertmanager.url=http://{address}"
        shown = amtool("alert", "query", url, "-o", "json").stdout
        assert [a["labels"]["alertname"] for a in json.loads(shown)] == [FLEET_ALERT]
        inhibited = json.loads(amtool("alert", "query", "-i", url, "-o", "json").stdout)
        assert sorted(a["labels"]["site"] for a in inhibited) == [
            f"site{n:02d}" for n in range(1, 31)
        ]


def test_a_storm_arriving_with_its_fleet_alert_pages_once(tmp_path: Path) -> None:
    """Even in one batch (rules evaluated together): inhibition is decided at the flush."""
    with alertmanager(tmp_path) as (address, receiver):
        post(address, [*storm(), alert(FLEET_ALERT)])
        wait_until(lambda: pages(receiver), timeout=10, interval=0.1)
        time.sleep(SETTLE)
        assert paged_alertnames(receiver) == [FLEET_ALERT]


def test_sites_still_failing_after_the_fleet_alert_ends_page_at_most_two(tmp_path: Path) -> None:
    """The fleet alert ends once fewer than 3 sites fail: those (2 at most) page one by one,
    so the storm opens at most 3 pages in all."""
    with alertmanager(tmp_path) as (address, receiver):
        post(address, [alert(FLEET_ALERT), *storm()])
        wait_until(lambda: pages(receiver), timeout=10, interval=0.1)
        recovered = [
            alert(a["labels"]["alertname"], site=a["labels"]["site"], ends_in=0)
            for a in storm()[:-2]
        ]
        post(address, [*recovered, alert(FLEET_ALERT, ends_in=0)])
        wait_until(lambda: len(pages(receiver)) == 3, timeout=15, interval=0.1)
        time.sleep(SETTLE)
        assert len(pages(receiver)) == 3
        sites = sorted(
            a["labels"]["site"]
            for group in pages(receiver).values()
            for a in group
            if "site" in a["labels"]
        )
        assert sites == ["site29", "site30"]


def test_a_lone_site_pages_by_itself_within_group_wait(tmp_path: Path) -> None:
    with alertmanager(tmp_path) as (address, receiver):
        posted = time.monotonic()
        post(address, [alert("SiteStatusSiteCritical", site="shop")])
        wait_until(lambda: pages(receiver), timeout=10, interval=0.05)
        (notification,) = [n for n in receiver.received() if n.receiver == "pager"]
        latency = notification.received_at - posted
        print(f"lone site paged {latency:.2f} s after its alert reached Alertmanager")
        assert GROUP_WAIT * 0.9 <= latency < GROUP_WAIT + 3
        time.sleep(SETTLE)
        assert paged_alertnames(receiver) == ["SiteStatusSiteCritical"]
        assert [a["labels"]["site"] for a in notification.alerts()] == ["shop"]


def test_a_fleet_alert_of_another_tier_holds_back_nothing_here(tmp_path: Path) -> None:
    """flexprod's fleet incident does not hide a priprod site failing at the same time."""
    with alertmanager(tmp_path) as (address, receiver):
        flexprod = [alert("SiteStatusSiteCritical", "flexprod", f"flex{n}") for n in range(3)]
        post(address, [alert(FLEET_ALERT, "flexprod"), *flexprod])
        post(address, [alert("SiteStatusSiteCritical", site="shop")])
        wait_until(lambda: len(pages(receiver)) == 2, timeout=10, interval=0.1)
        time.sleep(SETTLE)
        assert paged_alertnames(receiver) == [FLEET_ALERT, "SiteStatusSiteCritical"]


def test_a_silenced_fleet_alert_still_holds_back_the_site_pages(tmp_path: Path) -> None:
    """Alertmanager inhibits from silenced alerts too: the runbook warns about it."""
    with alertmanager(tmp_path) as (address, receiver):
        url = f"--alertmanager.url=http://{address}"
        added = amtool("silence", "add", url, f"alertname={FLEET_ALERT}", "-c", "test", "-d", "1h")
        assert added.returncode == 0, added.stderr
        post(address, [alert(FLEET_ALERT), *storm()[:3]])
        time.sleep(SETTLE)
        assert paged_alertnames(receiver) == []
        post(address, [alert("SiteStatusSiteCritical", "flexprod", "campus")])
        wait_until(lambda: pages(receiver), timeout=10, interval=0.1)
        assert paged_alertnames(receiver) == ["SiteStatusSiteCritical"]
