"""The Deployment's maintenance reason in the exporter's log: one record, shown, never obeyed
(finding 7 of issue 23: a reason with a newline forged a complete log line, and its escape
sequences reached the terminal raw)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exporter.kube.deployment import DeploymentWatch
from exporter.kube_client.client import KubeClient
from exporter.kube_client.locate import find_cluster
from exporter.kube_settings import KubernetesSettings
from exporter.log_format import log_handler
from tests.support.kube_api import KubeApiDouble

FORGED = "2026-12-01 00:00:00,000 level=ERROR logger=forged msg=rollback"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = log_handler(stream)
    logger = logging.getLogger("exporter.kube.deployment")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


async def test_a_maintenance_reason_cannot_forge_a_log_line(
    tmp_path: Path, logged: io.StringIO
) -> None:
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    reason = f"db upgrade\n{FORGED}\x1b[2J\x1b]0;owned\x07\u202e"
    with KubeApiDouble(tmp_path / "api") as api:
        api.put(
            "apps",
            "deployments",
            {
                "metadata": {
                    "name": "site-status",
                    "annotations": {
                        "site-status.io/maintenance-until": until,
                        "site-status.io/maintenance-reason": reason,
                    },
                }
            },
        )
        settings = KubernetesSettings(**api.settings())
        client = KubeClient(find_cluster(settings))
        try:
            watch = DeploymentWatch(client, "site-status", 1.0)
            await watch.poll()
        finally:
            await client.aclose()
    assert watch.window is not None and watch.window.reason == reason
    lines = logged.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(f"db upgrade\\n{FORGED}\\x1b[2J\\x1b]0;owned\\x07\\u202e"), lines[0]
    assert "\x1b" not in logged.getvalue() and "\u202e" not in logged.getvalue()
