"""Health bodies recorded from real software (tests/fixtures/realworld/health), each served with
the content type and code its product sends it with, through the real http probe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.status import Status
from probes.http.probe import KIND, HttpProbe
from tests.support.context import make_context
from tests.support.http_server import MisbehavingServer, misbehaving_server

CORPUS = Path(__file__).parent.parent / "fixtures" / "realworld" / "health"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())


@pytest.fixture(scope="module")
def server() -> Iterator[MisbehavingServer]:
    with misbehaving_server() as running:
        yield running


@pytest.mark.parametrize("case", CASES, ids=[case["file"] for case in CASES])
async def test_recorded_body_is_graded_as_an_operator_expects(
    server: MisbehavingServer, case: dict[str, Any]
) -> None:
    path = "/" + case["file"]
    server.route(
        path,
        status=case["code"],
        body=(CORPUS / case["file"]).read_bytes(),
        content_type=case["content_type"],
    )
    config = HttpProbe.model_validate({"name": "h", "kind": "http", "url": server.url(path)})
    result = await KIND.run(config, make_context(3.0))
    assert result.status is Status[case["grade"]], result.summary
    for words in case["summary"]:
        assert words in result.summary, result.summary
    if result.status is not Status.OK and not case.get("body_silent"):
        # The HTTP code the product sends with its status is expected: it is not a finding;
        # what the body says is (a body that says nothing leaves the code as the finding).
        assert "expected 2xx" not in result.summary, result.summary
    assert len(result.summary) <= 300 and "\n" not in result.summary


def test_every_recorded_body_has_a_case_and_a_cited_source() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.name not in ("cases.yaml", "README.md")}
    assert files == {case["file"] for case in CASES}
    readme = (CORPUS / "README.md").read_text()
    for case in CASES:
        assert case["file"] in readme, case["file"]
        assert case["source"] and case["adapted"], case["file"]
        assert case["grade"] in Status.__members__
    assert len(CASES) >= 75
