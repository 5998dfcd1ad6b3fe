"""What the on-call person reads: real alerts through the real Alertmanager's templates.

Debian's Prometheus scrapes eight exporter endpoints on loopback (static exposition text, as
the exporter writes it) with the shipped rules (every ``for`` 1s); Debian's Alertmanager runs
the shipped grouping, inhibitions and ``alerts/site-status.tmpl``, and sends every
notification to one receiver with a webhook, a Slack integration (to a loopback recorder) and
an e-mail integration (to a loopback SMTP sink), none with a template setting of its own. The
scene: a flexprod shop CRITICAL for two reasons; three priprod sites behind a database that
is down (a fleet incident); three besteffort sites with the same Drupal warning; a loaded node.

The test checks each notification names every failing probe with its reason and part, the
site, environment, tier, since when and the links, and that there is one notification per
cause; then writes (``SITE_STATUS_UPDATE_DOCS=1``) or checks the rendered text in
docs/alerts.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from mixin.alertmanager import AlertmanagerSettings, alertmanager_config
from mixin.config import MixinConfig
from mixin.fleet import FLEET_ALERT
from mixin.generate import REPO
from mixin.notifications import TEMPLATE, TEMPLATE_FILE
from mixin.rules import rule_files
from tests.support.exporter_process import wait_until
from tests.support.monitoring import (
    WebhookReceiver,
    running_alertmanager,
    running_prometheus,
    webhook_receiver,
)
from tests.support.smtp_sink import SmtpSink, smtp_sink

DOC = REPO / "docs" / "alerts.md"
BEGIN, END = "<!-- rendered notifications: begin -->", "<!-- rendered notifications: end -->"
EXPECTED = {"SiteStatusSiteCritical", "SiteStatusFleetCritical", "SiteStatusWarningShared"}
EXPECTED |= {"SiteStatusLoadHigh"}


Reason = tuple[str, int]  # the labels of a site_status_probe_reason series, its value

DATABASE: Reason = ('probe="frontpage",kind="http",reason="component",part="database"', 2)
DRUSH: Reason = ('probe="drupal",kind="drupal",reason="drush",part="SQLSTATE[HY000] [2002]"', 2)
CRON: Reason = ('probe="cron-stamp",kind="file",reason="age",part=""', 2)
UPDATES: Reason = ('probe="drupal",kind="drupal",reason="requirement",part="update_contrib"', 1)

#: (site, tier, node, rollup, reasons, 15m load on 2 CPUs): the scene.
SITES: list[tuple[str, str, str, int, list[Reason], float]] = [
    ("shop", "flexprod", "node-b", 2, [DATABASE, CRON], 0.4),
    ("db1", "priprod", "node-a", 2, [DATABASE, DRUSH], 9.0),
    ("db2", "priprod", "node-a", 2, [DATABASE, DRUSH], 9.0),
    ("db3", "priprod", "node-a", 2, [DATABASE], 9.0),
    ("web1", "besteffort", "node-a", 1, [UPDATES], 9.0),
    ("web2", "besteffort", "node-a", 1, [UPDATES], 9.0),
    ("web3", "besteffort", "node-a", 1, [UPDATES], 9.0),
]


def exposition(
    site: str, tier: str, node: str, status: int, reasons: list[Reason], load15: float
) -> str:
    """What one exporter's /metrics says, in the exporter's own series (docs/metrics.md)."""
    info = f'site="{site}",environment="prod",tier="{tier}",profile="os2web"'
    lines = [
        f"site_status_site_info{{{info}}} 1",
        f'site_status_node_info{{node="{node}"}} 1',
        "site_status_maintenance 0",
        f"site_status_site_status {status}",
        f'site_status_load_average{{probe="load",window="15m"}} {load15}',
        'site_status_load_cpus{probe="load"} 2',
        *(f"site_status_probe_reason{{{labels}}} {value}" for labels, value in reasons),
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def static_exporters() -> Iterator[list[str]]:
    """One loopback server per site answering /metrics with its exposition."""
    servers = []
    for site in SITES:
        body = exposition(*site).encode()

        class Handler(BaseHTTPRequestHandler):
            payload = body

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(self.payload)))
                self.end_headers()
                self.wfile.write(self.payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    try:
        yield [f"127.0.0.1:{server.server_address[1]}" for server in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def routing(workdir: Path, hooks: WebhookReceiver, mail: SmtpSink) -> dict[str, Any]:
    """The shipped grouping, inhibitions and template; every alert to one receiver that has a
    webhook, Slack and e-mail, with no template settings of their own."""
    (workdir / TEMPLATE_FILE).write_text((REPO / "alerts" / TEMPLATE_FILE).read_text())
    settings = AlertmanagerSettings(
        group_wait="1s",
        group_interval="1s",
        repeat_interval="1h",
        templates=(str(workdir / TEMPLATE_FILE),),
    )
    config = alertmanager_config(settings)
    config["route"]["routes"] = []
    config["receivers"] = [
        {
            "name": config["route"]["receiver"],
            "webhook_configs": [{"url": hooks.url("webhook")}],
            "slack_configs": [{"api_url": hooks.url("slack"), "channel": "#site-status"}],
            "email_configs": [
                {
                    "to": "oncall@example.org",
                    "from": "alertmanager@example.org",
                    "smarthost": mail.address,
                    "require_tls": False,
                    "hello": "localhost",
                }
            ],
        }
    ]
    return config


def rendered(workdir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    """Run the scene until every expected alert was notified on all three integrations; the
    webhook bodies, Slack payloads and e-mails."""
    rule_paths = []
    for name, document in rule_files(MixinConfig()).items():
        # The shipped rules, texts included, with every wait cut to seconds (as the fleet
        # simulation's copies do), the fleet alert's still shorter than the pages it stands in
        # for: the notifications read as in production.
        for group in document["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "1s" if rule.get("alert") == FLEET_ALERT else "4s"
        path = workdir / name
        path.write_text(yaml.safe_dump(document))
        rule_paths.append(path)
    with (
        webhook_receiver() as hooks,
        smtp_sink() as mail,
        static_exporters() as targets,
        running_alertmanager(workdir, routing(workdir, hooks, mail)) as alertmanager,
        running_prometheus(workdir, targets, rule_paths, alertmanager, "1s"),
    ):

        def all_sent() -> bool:
            bodies = [n.body for n in hooks.received() if n.receiver == "webhook"]
            names = {alert["labels"]["alertname"] for body in bodies for alert in body["alerts"]}
            slack = [n for n in hooks.received() if n.receiver == "slack"]
            return (
                names >= EXPECTED
                and len(slack) >= len(bodies)
                and len(mail.received()) >= len(bodies)
            )

        wait_until(all_sent, timeout=90, interval=0.5)
        webhooks = [n.body for n in hooks.received() if n.receiver == "webhook"]
        slack = [n.body for n in hooks.received() if n.receiver == "slack"]
        return webhooks, slack, mail.received()


def test_every_notification_says_why_once_per_cause(tmp_path: Path) -> None:
    webhooks, slack, mails = rendered(tmp_path)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for body in webhooks:
        for alert in body["alerts"]:
            by_name.setdefault(alert["labels"]["alertname"], []).append(alert)
    # One notification per cause: the shop's page, one fleet page for the three priprod sites
    # (their own pages inhibited), one shared warning for the three besteffort sites (no
    # SiteStatusSiteDegraded each), one load alert for node-a (not one per site).
    assert sorted(by_name) == sorted(EXPECTED), sorted(by_name)
    assert all(len(alerts) == 1 for alerts in by_name.values()), by_name
    assert len(webhooks) == len(EXPECTED)
    shop = by_name["SiteStatusSiteCritical"][0]
    assert shop["labels"]["site"] == "shop"
    assert shop["annotations"]["summary"] == (
        "shop (prod, flexprod) is CRITICAL: cron-stamp: age; frontpage: component database"
    )
    fleet = by_name["SiteStatusFleetCritical"][0]["annotations"]["summary"]
    assert fleet == ("3 priprod sites are failing at once; in common: 3 http component database")
    shared = by_name["SiteStatusWarningShared"][0]["annotations"]["summary"]
    assert shared == "3 besteffort sites warn: drupal requirement update_contrib"
    load = by_name["SiteStatusLoadHigh"][0]
    assert load["labels"]["node"] == "node-a"
    assert "sites on it: 6 (db1, db2, db3, web1, web2, web3)" in load["annotations"]["description"]

    # Slack and e-mail carry the same text, from the template, with no receiver settings.
    titles = sorted(payload["attachments"][0]["title"] for payload in slack)
    subjects = sorted(str(message["Subject"]) for message in mails)
    summaries = sorted(
        alert["annotations"]["summary"] for body in webhooks for alert in body["alerts"]
    )
    assert titles == subjects == summaries
    for payload in slack:
        text = payload["attachments"][0]["text"]
        assert "since " in text and "Runbook: http" in text and "Dashboard: http" in text
    shop_slack = next(p for p in slack if p["attachments"][0]["title"].startswith("shop "))
    shop_text = shop_slack["attachments"][0]["text"]
    assert "critical, tier flexprod, environment prod; since " in shop_text
    assert 'Reports (Loki): {job="site-status", site="shop"' in shop_text
    link = shop_slack["attachments"][0]["title_link"]
    assert link.startswith(f"{MixinConfig().grafana_url}/d/site-status-site/"), link

    section = docs_section(webhooks, slack, mails)
    if os.environ.get("SITE_STATUS_UPDATE_DOCS"):
        write_docs_section(section)
    assert section in DOC.read_text(), "docs/alerts.md is stale: SITE_STATUS_UPDATE_DOCS=1"


#: Times, ports and what depends on them change from run to run: the docs show them fixed.
_FIXED = [
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"), "2026-12-07 10:04 UTC"),
    (re.compile(r"127\.0\.0\.1:\d+"), "10.42.0.17:9918"),
    (re.compile(r'"startsAt": "[^"]*"'), '"startsAt": "2026-12-07T10:04:31.412Z"'),
    (re.compile(r'"fingerprint": "[0-9a-f]+"'), '"fingerprint": "5f0e4c1a9b7d2e38"'),
    (re.compile(r'"generatorURL": "http://[^/]+/'), '"generatorURL": "http://prometheus:9090/'),
    (re.compile(r'"externalURL": "http://[^"]+"'), '"externalURL": "http://alertmanager:9093"'),
]


def steady(text: str) -> str:
    for pattern, fixed in _FIXED:
        text = pattern.sub(fixed, text)
    return text


ORDER = ["SiteStatusSiteCritical", "SiteStatusFleetCritical", "SiteStatusWarningShared"]
ORDER += ["SiteStatusLoadHigh"]


def docs_section(
    webhooks: list[dict[str, Any]], slack: list[dict[str, Any]], mails: list[Any]
) -> str:
    """docs/alerts.md's rendered notifications: each Slack message (title and text), the
    e-mail subject, and one webhook body in full."""
    parts = [BEGIN, ""]
    for name in ORDER:
        body = next(b for b in webhooks if b["alerts"][0]["labels"]["alertname"] == name)
        summary = body["alerts"][0]["annotations"]["summary"]
        attachment = next(p for p in slack if p["attachments"][0]["title"] == summary)
        attachment = attachment["attachments"][0]
        mail = next(m for m in mails if str(m["Subject"]) == summary)
        parts += [
            f"**{name}** (Slack title and text; the e-mail's subject is the same title, its "
            "body the same text):",
            "",
            "```text",
            steady(attachment["title"]),
            "",
            steady(attachment["text"].rstrip()),
            "```",
            "",
        ]
        assert str(mail["Subject"]) == attachment["title"]
    shop = next(
        b for b in webhooks if b["alerts"][0]["labels"]["alertname"] == "SiteStatusSiteCritical"
    )
    parts += [
        "The webhook body of the first (Alertmanager's webhook format, version 4; the test fixes "
        "times, addresses and the fingerprint so that the text stays the same):",
        "",
        "```json",
        steady(json.dumps(shop, indent=2, sort_keys=True)),
        "```",
        "",
        END,
    ]
    return "\n".join(parts)


def write_docs_section(section: str) -> None:
    text = DOC.read_text()
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


def test_the_template_is_the_generated_one() -> None:
    assert (REPO / "alerts" / TEMPLATE_FILE).read_text() == TEMPLATE
