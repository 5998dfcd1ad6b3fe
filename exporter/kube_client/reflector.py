"""List, then watch from the list's resourceVersion: a current copy of a resource's objects.

The usual Kubernetes client loop: on a 410 Gone (the version fell out of the server's history,
an ERROR event in the stream) it lists again; when the server ends a watch it watches again
from the last version seen (bookmarks keep that version fresh). Other errors are kept as
``error`` (the owner reports them). Between two list-and-watch rounds (after a 410 or an error)
it waits as client-go's reflector does, so a server that answers 410 forever is not hammered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import httpx

from exporter.backoff import Backoff
from exporter.kube_client.client import ApiError, KubeClient, Object, Resource, ResourceGone

log = logging.getLogger(__name__)


class Reflector:
    """Keeps ``objects`` (by name) current and calls ``on_change`` after every change."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        on_change: Callable[[], None],
        watch_timeout: int | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        # client-go's reflector backoff (see exporter.backoff).
        self.backoff = backoff or Backoff(first=1.6, longest=60.0, reset_after=120.0)
        self.resource = resource
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self.objects: dict[str, Object] = {}
        self.resource_version: str | None = None
        #: Whether a list has succeeded (until then ``objects`` means nothing).
        self.synced = False
        #: The last error, until the next success.
        self.error: str | None = None
        #: Times the reflector listed (for tests and logs).
        self.lists = 0

    async def run(self) -> None:
        while True:
            try:
                if self.resource_version is None:
                    await self._list()
                while True:  # a watch the server ended normally: watch on from where it was
                    await self._watch()
            except ResourceGone:
                log.info("%s: resourceVersion too old, listing again", self.resource.plural)
                self.resource_version = None
            except (ApiError, httpx.HTTPError, OSError, ValueError) as error:
                self._failed(error)
            await anyio.sleep(self.backoff.next_delay())

    async def _list(self) -> None:
        listing = await self.client.list(self.resource)
        self.lists += 1
        listed = listing.get("items")
        items = [i for i in listed if isinstance(i, dict)] if isinstance(listed, list) else []
        self.objects = {_name(item): item for item in items if _name(item)}
        self.resource_version = _version(listing)
        self.synced = True
        self._succeeded()
        self.on_change()

    async def _watch(self) -> None:
        assert self.resource_version is not None
        kwargs: dict[str, Any] = {}
        if self.watch_timeout is not None:
            kwargs["timeout_seconds"] = self.watch_timeout
        async for event in self.client.watch(self.resource, self.resource_version, **kwargs):
            version = _version(event.object)
            if version:
                self.resource_version = version
            if event.type == "BOOKMARK":
                self._succeeded()
                continue
            name = _name(event.object)
            if not name:
                continue
            if event.type in ("ADDED", "MODIFIED"):
                self.objects[name] = event.object
            elif event.type == "DELETED":
                self.objects.pop(name, None)
            else:
                continue
            self._succeeded()
            self.on_change()

    def _failed(self, error: Exception) -> None:
        message = f"{self.resource.plural}: {error}" if str(error) else repr(error)
        if message != self.error:
            log.error("kubernetes %s", message)
            self.error = message
            self.on_change()

    def _succeeded(self) -> None:
        if self.error is not None:
            log.info("kubernetes %s: working again", self.resource.plural)
            self.error = None


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _name(obj: Mapping[str, Any]) -> str:
    return str(_metadata(obj).get("name") or "")


def _version(obj: Mapping[str, Any]) -> str:
    return str(_metadata(obj).get("resourceVersion") or "")
