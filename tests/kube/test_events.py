"""Event notes fit the API server's limit, which counts UTF-8 bytes (Go's ``len``), not
characters: a summary in Danish cut at 1024 characters is ~1,100 bytes and refused with 422."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.kube.events import ELLIPSIS, NOTE_LIMIT, SiteEvents, cut_utf8
from exporter.kube_client.client import KubeClient
from exporter.kube_settings import EventSettings
from tests.support.kube_api import KubeApiDouble

#: Real Danish text (the operators' language): "Forsiden svarer ikke; databasen på
#: drupal-0 er nede, prøv igen senere" and so on, many times over.
DANISH = "Forsiden svarer ikke: databasen på drupal-0 er nede; prøv igen om lidt, så går det. "


def site_events(client: KubeClient) -> SiteEvents:
    reference = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "site-status"}
    return SiteEvents(
        client,
        EventSettings(),
        lambda: {**reference, "namespace": client.namespace},
        list,
        lambda: None,  # type: ignore[arg-type,return-value]  # not read by _create
    )


async def test_a_long_danish_note_is_cut_to_1024_bytes_and_accepted(
    api: KubeApiDouble, client: KubeClient
) -> None:
    text = "site shop is CRITICAL: frontpage: " + DANISH * 20
    assert len(text) > NOTE_LIMIT
    note = cut_utf8(text, NOTE_LIMIT)
    assert len(note.encode()) <= NOTE_LIMIT
    assert note.endswith(ELLIPSIS) and text.startswith(note.removesuffix(ELLIPSIS))
    assert await site_events(client)._create(True, note)
    assert api.events[-1]["note"] == note


async def test_the_double_counts_bytes_as_the_api_server(
    api: KubeApiDouble, client: KubeClient
) -> None:
    """1000 characters, 2000 bytes: a real server refuses it, so the double does too."""
    events = site_events(client)
    assert not await events._create(True, "æ" * 1000)
    assert events.failed == 1
    assert [r.code for r in api.requests if r.method == "POST"] == [422]


def test_short_notes_are_kept_whole() -> None:
    assert cut_utf8("site shop is no longer CRITICAL: now OK", NOTE_LIMIT).endswith("now OK")


@settings(max_examples=200, deadline=1000, database=None)
@given(st.text(max_size=1500), st.integers(min_value=len(ELLIPSIS.encode()), max_value=1100))
def test_a_cut_is_within_the_limit_at_a_character_boundary(text: str, limit: int) -> None:
    cut = cut_utf8(text, limit)
    assert len(cut.encode()) <= limit
    if len(text.encode()) <= limit:
        assert cut == text
    else:
        kept = cut.removesuffix(ELLIPSIS)
        assert text.startswith(kept)
        # Nothing more would have fitted: the next character would pass the limit.
        assert len(text[: len(kept) + 1].encode()) + len(ELLIPSIS.encode()) > limit
