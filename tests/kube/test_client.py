"""The API client and the list-then-watch loop, against the API server double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from exporter.kube.client import (
    DEPLOYMENTS,
    EVENTS,
    PODS,
    SERVICES,
    ApiError,
    KubeClient,
    ResourceGone,
)
from exporter.kube.reflector import Reflector
from tests.kube.conftest import client_for, wait_for
from tests.support.kube_api import KubeApiDouble


def service(name: str, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"ports": [{"name": "http", "port": 80}], "clusterIP": "10.0.0.1"},
    }


async def test_list_carries_the_resource_version(api: KubeApiDouble, client: KubeClient) -> None:
    api.put("", "services", service("a"))
    listing = await client.list(SERVICES)
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a"]
    stored = api.get("", "services", "a")
    assert stored is not None
    assert listing["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]


async def test_get_of_a_missing_object_is_a_not_found_status(client: KubeClient) -> None:
    with pytest.raises(ApiError) as raised:
        await client.get(DEPLOYMENTS, "site-status")
    assert raised.value.code == 404
    assert raised.value.reason == "NotFound"


async def test_a_verb_the_role_does_not_grant_is_forbidden(
    tmp_path: Path,
) -> None:
    with KubeApiDouble(tmp_path) as api:  # the base Role only: no pods
        kube = client_for(api)
        try:
            with pytest.raises(ApiError) as raised:
                await kube.list(PODS, label_selector="app=drupal")
        finally:
            await kube.aclose()
    assert raised.value.code == 403
    assert raised.value.reason == "Forbidden"
    assert 'cannot list resource "pods"' in raised.value.message


async def test_get_of_another_deployment_is_forbidden(
    api: KubeApiDouble, client: KubeClient
) -> None:
    """The Role names its Deployment (resourceNames): no other can be read."""
    api.put("apps", "deployments", {"metadata": {"name": "drupal"}})
    with pytest.raises(ApiError) as raised:
        await client.get(DEPLOYMENTS, "drupal")
    assert raised.value.code == 403


async def test_an_undeclared_permission_is_refused_before_any_request(
    api: KubeApiDouble, client: KubeClient
) -> None:
    before = len(api.requests)
    with pytest.raises(RuntimeError, match="not declared"):
        await client.get(SERVICES, "a")
    with pytest.raises(RuntimeError, match="not declared"):
        await client.list(EVENTS)
    assert len(api.requests) == before


async def test_a_rotated_token_is_read_again_after_a_401(
    api: KubeApiDouble, client: KubeClient
) -> None:
    await client.list(SERVICES)
    api.rotate_token("token-2")
    await client.list(SERVICES)  # 401 with the old token, then the new one from the file
    codes = [(r.code, r.token) for r in api.requests[-2:]]
    assert codes == [(401, "token-1"), (200, "token-2")]


async def test_the_reflector_follows_adds_changes_and_deletes(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.put("", "services", service("a"))
    changes = []
    reflector = Reflector(client, SERVICES, lambda: changes.append(set(reflector.objects)))
    async with anyio.create_task_group() as group:
        group.start_soon(reflector.run)
        await wait_for(lambda: reflector.synced)
        api.put("", "services", service("b"))
        api.put("", "services", service("a", **{"site-status.io/path": "/x"}))
        api.delete("", "services", "b")
        await wait_for(lambda: set(reflector.objects) == {"a"} and len(changes) >= 4)
        assert reflector.objects["a"]["metadata"]["annotations"] == {"site-status.io/path": "/x"}
        group.cancel_scope.cancel()
    assert changes[:4] == [{"a"}, {"a", "b"}, {"a", "b"}, {"a"}]
    assert reflector.lists == 1


async def test_a_410_in_the_middle_of_a_watch_makes_it_list_again(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.put("", "services", service("a"))
    reflector = Reflector(client, SERVICES, lambda: None)
    async with anyio.create_task_group() as group:
        group.start_soon(reflector.run)
        await wait_for(lambda: reflector.synced)
        api.expire_watches()  # ERROR event, Status 410, in the open stream
        api.put("", "services", service("c"))  # only a new list can show it now
        await wait_for(lambda: "c" in reflector.objects)
        group.cancel_scope.cancel()
    assert reflector.lists == 2
    watches = [r for r in api.requests if r.query.get("watch")]
    assert all(r.query["allowWatchBookmarks"] == ["true"] for r in watches)


@pytest.mark.parametrize("gone_as", ["http", "event"])
async def test_a_watch_from_a_compacted_version_is_gone(tmp_path: Path, gone_as: str) -> None:
    """As an HTTP 410 answer or as an ERROR event: the client raises ResourceGone either way
    (which the reflector answers with a new list, as in the test above)."""
    with KubeApiDouble(tmp_path, gone_as=gone_as) as api:
        kube = client_for(api)
        try:
            api.put("", "services", service("a"))
            old = (await kube.list(SERVICES))["metadata"]["resourceVersion"]
            api.put("", "services", service("b"))
            api.compact()
            with pytest.raises(ResourceGone) as raised:
                async for _ in kube.watch(SERVICES, old):
                    pass
        finally:
            await kube.aclose()
    assert raised.value.code == 410
    assert [r.code for r in api.requests][-1] == (410 if gone_as == "http" else 200)


async def test_bookmarks_move_the_version_without_a_change(
    api: KubeApiDouble, client: KubeClient
) -> None:
    api.put("", "services", service("a"))
    changes: list[None] = []
    reflector = Reflector(client, SERVICES, lambda: changes.append(None))
    async with anyio.create_task_group() as group:
        group.start_soon(reflector.run)
        await wait_for(lambda: reflector.synced)
        listed = reflector.resource_version
        api.put("", "pods", {"metadata": {"name": "p"}, "spec": {"containers": []}, "status": {}})
        await wait_for(lambda: reflector.resource_version != listed)  # from a bookmark
        group.cancel_scope.cancel()
    assert len(changes) == 1
