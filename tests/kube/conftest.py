"""Fixtures: the API server double, and a client of the real code pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from exporter.kube_client.client import KubeClient
from exporter.kube_client.locate import find_cluster
from exporter.kube_settings import KubernetesSettings
from tests.support.kube_api import BASE_ROLE, EXEC_ROLE, KubeApiDouble


@pytest.fixture
def api(tmp_path: Path) -> Iterator[KubeApiDouble]:
    """The double with the base Role and the drupal-exec component's Role."""
    with KubeApiDouble(tmp_path, roles=(BASE_ROLE, EXEC_ROLE)) as double:
        yield double


def client_for(api: KubeApiDouble) -> KubeClient:
    settings = KubernetesSettings.model_validate(api.settings())
    return KubeClient(find_cluster(settings))


@pytest.fixture
async def client(api: KubeApiDouble) -> AsyncIterator[KubeClient]:
    kube = client_for(api)
    try:
        yield kube
    finally:
        await kube.aclose()
