"""The API client and the list-then-watch loop, against the API server double."""

from __future__ import annotations

import itertools
import logging
import ssl
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from exporter.backoff import Backoff
from exporter.kube_client.client import (
    DEPLOYMENTS,
    EVENTS,
    PODS,
    SERVICES,
    ApiError,
    KubeClient,
    ResourceGone,
)
from exporter.kube_client.locate import find_cluster
from exporter.kube_client.reflector import Reflector
from exporter.kube_settings import KubernetesSettings
from tests.kube.conftest import client_for
from tests.support.kube_api import BASE_ROLE, KubeApiDouble
from tests.support.timing import wait_for


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
        await wait_for(lambda: reflector.synced and api.open_watches == 1)
        api.expire_watches()  # ERROR event, Status 410, in the open stream
        api.put("", "services", service("c"))  # only a new list can show it now
        await wait_for(lambda: "c" in reflector.objects)
        group.cancel_scope.cancel()
    assert reflector.lists == 2
    watches = [r for r in api.requests if r.query.get("watch")]
    assert all(r.query["allowWatchBookmarks"] == ["true"] for r in watches)


async def test_a_watch_from_a_compacted_version_is_gone(tmp_path: Path) -> None:
    """As a real server: HTTP 200, then an ERROR event with the 410 Status (never an HTTP 410
    on a watch); the client raises ResourceGone, which the reflector answers with a new list."""
    with KubeApiDouble(tmp_path) as api:
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
    assert raised.value.reason == "Expired"
    assert [r.code for r in api.requests][-1] == 200


async def test_bookmarks_move_the_version_without_a_change(tmp_path: Path) -> None:
    with KubeApiDouble(tmp_path, bookmark_interval=0.5) as api:
        kube = client_for(api)
        try:
            await _bookmark_moves_the_version(api, kube)
        finally:
            await kube.aclose()


async def _bookmark_moves_the_version(api: KubeApiDouble, client: KubeClient) -> None:
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


async def test_a_server_that_answers_410_forever_is_not_hammered(tmp_path: Path) -> None:
    """client-go's reflector waits between list-and-watch rounds (exponential, jittered); so
    does ours. Without it, these lists would come back to back: hundreds a second."""
    with KubeApiDouble(tmp_path, always_gone=True) as api:

        def listed() -> list[float]:
            return [r.seen_at for r in api.requests if r.path.endswith("/services") and not r.query]

        kube = client_for(api)
        backoff = Backoff(first=0.1, longest=0.4, reset_after=60)
        reflector = Reflector(kube, SERVICES, lambda: None, backoff=backoff)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(reflector.run)
                await wait_for(lambda: len(listed()) >= 6)  # however slow the machine
                group.cancel_scope.cancel()
        finally:
            await kube.aclose()
    lists = listed()
    gaps = [later - earlier for earlier, later in itertools.pairwise(lists)]
    assert all(gap >= 0.05 for gap in gaps)  # never at once
    assert all(gap >= 0.2 for gap in gaps[3:])  # grown to the maximum (plus jitter)
    assert len({round(gap, 3) for gap in gaps}) > 1  # jittered, not in lockstep


def test_the_backoff_doubles_up_to_its_maximum_and_starts_over_when_healthy() -> None:
    backoff = Backoff(first=1.6, longest=60.0, reset_after=120.0, random=lambda: 0.5)
    waits = [backoff.next_delay() for _ in range(8)]
    assert waits == pytest.approx([1.2, 2.4, 4.8, 9.6, 19.2, 38.4, 45.0, 45.0])
    backoff._last -= 121  # two minutes without a wait
    assert backoff.next_delay() == pytest.approx(1.2)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=drupal", {"drupal-0", "drupal-1"}),
        ("app==drupal,tier=web", {"drupal-0"}),
        ("app in (drupal)", {"drupal-0", "drupal-1"}),
        ("app in (drupal, solr), tier notin (web)", {"drupal-1", "solr-0"}),
        ("app!=drupal", {"solr-0", "bare"}),  # != also matches objects without the key
        ("tier", {"drupal-0", "solr-0"}),
        ("!tier", {"drupal-1", "bare"}),
        ("app notin (drupal,solr)", {"bare"}),
        ("generation>1", {"drupal-1"}),
        ("generation<2", {"drupal-0"}),
    ],
)
async def test_label_selectors_match_as_on_a_real_server(
    tmp_path: Path, selector: str, expected: set[str]
) -> None:
    """Examples as in apimachinery's labels/selector_test.go (TestSelectorMatches)."""
    from tests.support.kube_api import EXEC_ROLE

    with KubeApiDouble(tmp_path, roles=(BASE_ROLE, EXEC_ROLE)) as api:
        api.add_pod("drupal-0", {"app": "drupal", "tier": "web", "generation": "1"})
        api.add_pod("drupal-1", {"app": "drupal", "generation": "2"})
        api.add_pod("solr-0", {"app": "solr", "tier": "search"})
        api.add_pod("bare", {})
        kube = client_for(api)
        try:
            listing = await kube.list(PODS, label_selector=selector)
        finally:
            await kube.aclose()
    assert {item["metadata"]["name"] for item in listing["items"]} == expected


@pytest.mark.parametrize("selector", ["app in drupal", "app in ()", "=drupal", "app=drupal,"])
async def test_a_selector_that_does_not_parse_is_a_bad_request(
    tmp_path: Path, selector: str
) -> None:
    from tests.support.kube_api import EXEC_ROLE

    with KubeApiDouble(tmp_path, roles=(BASE_ROLE, EXEC_ROLE)) as api:
        kube = client_for(api)
        try:
            with pytest.raises(ApiError) as raised:
                await kube.list(PODS, label_selector=selector)
        finally:
            await kube.aclose()
    assert (raised.value.code, raised.value.reason) == (400, "BadRequest")


async def test_behind_kubectl_proxy_no_token_file_is_a_mode_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Plain HTTP, no token: requests go without one, and that is logged once at INFO, not as
    an error at every token check."""
    caplog.set_level(logging.INFO, logger="exporter.kube_client")
    with KubeApiDouble(tmp_path, tls="none") as api:
        api.put("", "services", service("a"))
        settings = KubernetesSettings(
            enabled=True,
            api_url=api.url,
            namespace="site",
            service_account_dir=str(tmp_path / "no-such-dir"),
        )
        kube = KubeClient(find_cluster(settings))
        try:
            for _ in range(3):
                listing = await kube.list(SERVICES)
                await kube.authorization(force_reload=True)  # as at every check
        finally:
            await kube.aclose()
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a"]
    assert {r.token for r in api.requests} == {""}
    records = [r for r in caplog.records if r.name.startswith("exporter.kube")]
    assert [(r.levelname, "kubectl proxy" in r.getMessage()) for r in records] == [("INFO", True)]


async def test_a_cluster_ca_without_key_usage_is_trusted(tmp_path: Path) -> None:
    """Python 3.13's default context (VERIFY_X509_STRICT) refuses such a CA; ours clears that
    one flag for the cluster CA and verifies everything else."""
    with KubeApiDouble(tmp_path, tls="legacy-ca") as api:
        api.put("", "services", service("a"))
        ca_file = api.account_dir / "ca.crt"
        strict = ssl.create_default_context(cafile=str(ca_file))
        strict.verify_flags |= ssl.VERIFY_X509_STRICT  # what 3.13 does by default
        async with httpx.AsyncClient(verify=strict) as plain:
            with pytest.raises(httpx.ConnectError, match="CA cert does not include key usage"):
                await plain.get(api.url + "/version")
        kube = client_for(api)
        try:
            context = kube.ssl_context()
            assert context is not None
            assert not context.verify_flags & ssl.VERIFY_X509_STRICT
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
            listing = await kube.list(SERVICES)
        finally:
            await kube.aclose()
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a"]


def test_without_a_cluster_ca_pythons_default_flags_stay() -> None:
    from exporter.outbound import TlsSettings, ssl_context

    assert ssl_context(TlsSettings()).verify_flags == ssl.create_default_context().verify_flags


@pytest.mark.parametrize("line", [b"[]", b'{"type": "ADDED", "object": "x"}', b"not json"])
async def test_a_malformed_watch_event_is_an_error_the_reflector_survives(
    tmp_path: Path, line: bytes
) -> None:
    with KubeApiDouble(tmp_path, watch_preamble=(line,)) as api:
        api.put("", "services", service("a"))
        kube = client_for(api)
        reflector = Reflector(
            kube, SERVICES, lambda: None, backoff=Backoff(first=0.1, longest=60.0)
        )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(reflector.run)
                await wait_for(lambda: len([r for r in api.requests if r.query]) >= 2)
                assert reflector.error is not None and reflector.synced
                assert set(reflector.objects) == {"a"}
                group.cancel_scope.cancel()
        finally:
            await kube.aclose()


async def test_the_double_sends_bookmarks_as_the_watch_cache(
    api: KubeApiDouble, client: KubeClient
) -> None:
    """About once a minute, and once 2 s before the watch's deadline: a 3 s watch of an idle
    resource gets one bookmark, near its end (not one every half second)."""
    listed = (await client.list(SERVICES))["metadata"]["resourceVersion"]
    started = anyio.current_time()
    seen = []
    async for event in client.watch(SERVICES, listed, timeout_seconds=3):
        seen.append((event.type, anyio.current_time() - started))
    assert [kind for kind, _ in seen] == ["BOOKMARK"]
    assert 0.8 <= seen[0][1] <= 2.5
