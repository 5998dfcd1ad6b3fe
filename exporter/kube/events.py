"""Kubernetes Events when the site rollup turns CRITICAL and when it recovers.

Through the ``events.k8s.io/v1`` API, about the exporter's Deployment, so ``kubectl describe
deployment`` and event exporters show them. Rate-limited: after an Event, the next waits at
least ``min_interval``; a site that flaps meanwhile gets one Event for where it ended up.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx

from exporter.config import Site
from exporter.kube_client.client import EVENTS, ApiError, KubeClient
from exporter.kube_settings import EventSettings
from exporter.status import Status
from exporter.store import ProbeView, site_status

log = logging.getLogger(__name__)

REPORTING_CONTROLLER = "site-status.io/exporter"
ACTION = "StatusChange"
#: The API rejects longer notes: events.k8s.io/v1 ``ValidateEventCreate`` compares Go's
#: ``len(note)``, which counts UTF-8 bytes, with 1024.
NOTE_LIMIT = 1024
ELLIPSIS = "…"
REPORTING_INSTANCE_LIMIT = 128
#: Seconds before a failed Event is tried again (if min_interval is longer).
RETRY_AFTER_FAILURE = 30.0


def micro_time(moment: datetime) -> str:
    """The API's MicroTime: RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def note_for(site: Site, status: Status, views: Sequence[ProbeView], maintenance: bool) -> str:
    if status is Status.CRITICAL:
        failing = [v for v in views if v.rollup_status is Status.CRITICAL]
        text = f"site {site.name} is CRITICAL: " + "; ".join(
            f"{view.name}: {view.summary}" for view in failing
        )
    else:
        text = f"site {site.name} is no longer CRITICAL: now {status.name}"
    if maintenance:
        text += " (in maintenance)"
    return cut_utf8(text, NOTE_LIMIT)


def cut_utf8(text: str, limit: int, marker: str = ELLIPSIS) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, cut at a character boundary, ``marker`` added
    when cut (a 1024-character Danish summary is ~1,100 bytes: cut by characters, it is refused)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(marker.encode())
    # errors="ignore" drops the partial character the byte cut may leave at the end.
    return data[:room].decode(errors="ignore") + marker


class SiteEvents:
    """Watches the rollup and creates an Event for each transition to and from CRITICAL."""

    def __init__(
        self,
        client: KubeClient,
        settings: EventSettings,
        regarding: Callable[[], dict[str, Any]],
        views: Callable[[], list[ProbeView]],
        site: Callable[[], Site],
    ) -> None:
        self.client = client
        self.settings = settings
        self.regarding = regarding
        self.views = views
        self.site = site
        #: Whether the last Event said CRITICAL (start: assumed not).
        self.reported_critical = False
        self._last_sent = -float("inf")
        self.sent = 0
        self.failed = 0
        self.instance = socket.gethostname()[:REPORTING_INSTANCE_LIMIT]

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.settings.check_interval)
            await self.check()

    async def check(self) -> None:
        views = self.views()
        status = site_status(views)
        critical = status is Status.CRITICAL
        if critical == self.reported_critical:
            return
        if time.monotonic() - self._last_sent < self.settings.min_interval:
            return  # rate-limited: looked at again at the next check
        site = self.site()
        note = note_for(site, status, views, site.in_maintenance())
        self._last_sent = time.monotonic()
        if await self._create(critical, note):
            self.reported_critical = critical
        else:  # try again soon, not only after min_interval
            self._last_sent -= max(0.0, self.settings.min_interval - RETRY_AFTER_FAILURE)

    async def _create(self, critical: bool, note: str) -> bool:
        regarding = self.regarding()
        now = datetime.now(UTC)
        body = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": f"{regarding['name']}.{time.time_ns():x}",
                "namespace": self.client.namespace,
            },
            "eventTime": micro_time(now),
            "reportingController": REPORTING_CONTROLLER,
            "reportingInstance": self.instance,
            "action": ACTION,
            "reason": "SiteCritical" if critical else "SiteRecovered",
            "type": "Warning" if critical else "Normal",
            "note": note,
            "regarding": regarding,
        }
        try:
            await self.client.create(EVENTS, body)
        except (ApiError, httpx.HTTPError, OSError, ValueError) as error:
            self.failed += 1
            log.error("could not create a Kubernetes Event (%s): %s", body["reason"], error)
            return False
        self.sent += 1
        log.info("Kubernetes Event %s: %s", body["reason"], note)
        return True
