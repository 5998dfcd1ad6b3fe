"""The exporter's own Deployment: its maintenance annotation, and the reference Events name.

Read with a plain GET every ``maintenance_poll_interval`` (the Role grants ``get`` on this one
Deployment only, no list or watch). ``site-status.io/maintenance-until: <RFC 3339 time>`` puts
the site in maintenance until then; ``site-status.io/maintenance-reason`` says why. The deploy
freeze's annotations (exporter/freeze.py) are read from the same object.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx

from exporter.freeze import Freeze, read_freeze
from exporter.kube_client.client import DEPLOYMENTS, ApiError, KubeClient, Object
from exporter.maintenance import MaintenanceWindow, window_until

log = logging.getLogger(__name__)

MAINTENANCE_UNTIL = "site-status.io/maintenance-until"
MAINTENANCE_REASON = "site-status.io/maintenance-reason"


def parse_until(text: str) -> datetime:
    """An RFC 3339 time (``2026-05-01T17:00:00+02:00``, ``...Z``); naive means UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{MAINTENANCE_UNTIL}: {text!r} is not an RFC 3339 time like 2026-05-01T17:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DeploymentWatch:
    """Polls the Deployment; ``window``, ``reference`` and ``error`` describe what it found."""

    def __init__(self, client: KubeClient, name: str, interval: float) -> None:
        self.client = client
        self.name = name
        self.interval = interval
        self.window: MaintenanceWindow | None = None
        self.freeze: Freeze | None = None
        self.uid: str | None = None
        self.error: str | None = None

    def reference(self) -> dict[str, Any]:
        """An ObjectReference to the Deployment (with its uid once known: ``kubectl describe``
        finds Events by uid)."""
        reference = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": self.name,
            "namespace": self.client.namespace,
        }
        if self.uid:
            reference["uid"] = self.uid
        return reference

    async def poll(self) -> None:
        try:
            deployment = await self.client.get(DEPLOYMENTS, self.name)
        except (ApiError, httpx.HTTPError, OSError, ValueError) as error:
            self._failed(f"cannot read deployment {self.name}: {error}")
            return
        self.uid = str(deployment.get("metadata", {}).get("uid") or "") or None
        self._read_annotations(deployment)

    def _read_annotations(self, deployment: Object) -> None:
        annotations = deployment.get("metadata", {}).get("annotations") or {}
        self._read_freeze(annotations)
        until = annotations.get(MAINTENANCE_UNTIL)
        if not until:
            self._set(None, None)
            return
        try:
            end = parse_until(str(until))
        except ValueError as error:
            self._set(None, f"deployment {self.name}: {error}")
            return
        reason = str(annotations.get(MAINTENANCE_REASON) or f"{MAINTENANCE_UNTIL} on {self.name}")
        self._set(window_until(end, reason), None)

    def _read_freeze(self, annotations: dict[str, Any]) -> None:
        try:
            freeze = read_freeze(annotations)
        except ValueError as error:
            # A freeze that cannot be read is still a freeze: fail closed, with the reason.
            freeze = Freeze(
                datetime(1970, 1, 1, tzinfo=UTC), f"unreadable freeze annotation: {error}"
            )
        if freeze != self.freeze:
            if freeze is not None:
                log.info("deploy freeze since %s: %s", freeze.since.isoformat(), freeze.reason)
            else:
                log.info("deploy freeze lifted")
        self.freeze = freeze

    def _set(self, window: MaintenanceWindow | None, error: str | None) -> None:
        if window != self.window:
            if window is not None:
                log.info("maintenance declared until %s: %s", window.end.isoformat(), window.reason)
            else:
                log.info("maintenance annotation removed")
        self.window = window
        if error is not None:
            self._failed(error)
        else:
            self.error = None

    def _failed(self, error: str) -> None:
        if error != self.error:
            log.error("%s", error)
        self.error = error
