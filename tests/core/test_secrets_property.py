"""Property: whatever the secrets hold (quotes, backslashes, any Unicode), a backend that echoes
the request it got never gets them into an output surface, in any encoding.

The backend is a real HTTP server on loopback that puts every request header and the request
target into its answer: as the component names and outputs of an IETF health+json body (so they
reach the component series' labels too), or as Kubernetes verbose healthz text. The probe's
result then goes through the code of every surface: ``/status`` and ``check --format json``
(``view_document``), a report line (``transition_report`` + ``encode``), the exposition lines of
``/metrics``, and a log line through the filter every handler has.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import Site
from exporter.probe_api import Result
from exporter.redact import RedactingFilter
from exporter.reports.schema import encode, transition_report
from exporter.store import ProbeSpec, ResultStore
from exporter.web.metrics import render_probe_lines
from exporter.web.status_doc import view_document
from probes.http.probe import KIND, HttpProbe
from tests.support.context import make_context
from tests.support.echo_server import echoing_server

USER = "probe-user"
FAMILIES = {family.name: family for family in KIND.metrics}


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    with echoing_server() as url:
        yield url


@pytest.fixture(scope="module")
def secret_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secrets")


#: Characters that escaping changes, and some that encodings spell differently.
TRICKY = st.sampled_from(['"', "\\", "'", "%", "+", "&", "=", ":", "/", "@", " ", "#", "?"])
ANY_TEXT = st.one_of(
    st.sampled_from(["é", "✓", "😀", "\u2028"]),
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
)
ASCII_PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


def secret(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # A leading letter keeps a drawn secret such as "0000000" from matching ordinary output.
    return (
        st.text(st.one_of(TRICKY, alphabet), min_size=7, max_size=24)
        .map(lambda text: "s" + text.strip())
        .filter(lambda text: len(text) >= 8)
    )


def leaked_forms(value: str) -> set[str]:
    """How a secret can show up: raw, JSON-escaped, URL-encoded, base64."""
    raw = value.encode()
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    }


@settings(max_examples=60, deadline=5000)
@given(
    password=secret(ANY_TEXT),
    api_key=secret(ASCII_PRINTABLE),
    token=secret(ASCII_PRINTABLE),
    query_secret=secret(ANY_TEXT),
    path=st.sampled_from(["/json", "/text"]),
)
def test_echoed_secrets_reach_no_surface(
    echo_server: str,
    secret_dir: Path,
    password: str,
    api_key: str,
    token: str,
    query_secret: str,
    path: str,
) -> None:
    files = {}
    for name, value in (("password", password), ("api-key", api_key), ("token", token)):
        files[name] = secret_dir / name
        files[name].write_text(value + "\n", encoding="utf-8")
    config = HttpProbe.model_validate(
        {
            "name": "echo",
            "kind": "http",
            "url": f"{echo_server}{path}?page=2&token={quote(query_secret, safe='')}",
            "basic_auth": {"username": USER, "password_file": str(files["password"])},
            "header_files": {"X-API-Key": str(files["api-key"])},
            "headers": {"X-Session-Token": token},
        }
    )

    async def probe() -> Result:
        return await KIND.run(config, make_context(5.0))

    result = anyio.run(probe)
    store = ResultStore()
    store.configure([ProbeSpec("echo", "http", 60.0)])
    store.record("echo", result, 0.01)
    [view] = store.views(time.time())
    assert view.status.name == "CRITICAL", view.summary
    log = io.StringIO()  # a careless log line: the echoed body's summary
    handler = logging.StreamHandler(log)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.secrets")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("probe %s answered %s", "echo", result.details)
    finally:
        logger.removeHandler(handler)
    surfaces = {
        "status": json.dumps([view_document(view)], default=str, indent=1),
        "check --format json": json.dumps({"probes": [view_document(view)]}, default=str),
        "report": encode(transition_report(Site(name="s"), view, None, time.time())),
        "metrics": "".join(render_probe_lines(view.state, FAMILIES).values()),
        "log": log.getvalue(),
    }
    authorization = base64.b64encode(f"{USER}:{password}".encode()).decode()
    forbidden = {authorization}
    for value in (password, api_key, token, query_secret):
        forbidden |= leaked_forms(value)
    for surface, text in surfaces.items():
        for form in forbidden:
            assert form not in text, f"{form!r} leaked into {surface}"
    assert "***" in surfaces["status"]
