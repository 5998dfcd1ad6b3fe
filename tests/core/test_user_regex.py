"""User regexes run on RE2: a catastrophic pattern returns at once; RE2's refusals are config
errors with their YAML path."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator

import pytest

from exporter.config import ConfigInvalid, parse_config
from exporter.kube.discovery import discovered_probes
from exporter.kube.problem import DiscoveryProblem
from exporter.kube_settings import DiscoverySettings
from exporter.probe_api import ProbeConfig
from exporter.registry import default_registry
from exporter.status import Status
from exporter.user_regex import UserRegexError, check_user_regex, user_regex_search
from probes.http.probe import KIND, HttpProbe
from tests.kube.test_discovery import HTTP, service
from tests.support.context import make_context
from tests.support.http_server import MisbehavingServer, misbehaving_server
from tests.support.timing import LOADED

#: Python's re backtracks 2**29 times on this before failing (minutes, holding the GIL).
CATASTROPHIC = r"(a+)+$"
BODY_30_BYTES = "a" * 29 + "!"


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with misbehaving_server() as running:
        yield running


def test_catastrophic_pattern_returns_at_once() -> None:
    started = time.thread_time()  # CPU time: what a loaded machine does not lengthen
    assert not user_regex_search(CATASTROPHIC, BODY_30_BYTES)
    assert not user_regex_search(CATASTROPHIC, "a" * 1_000_000 + "!")
    assert time.thread_time() - started < 0.5


@pytest.mark.parametrize(
    "options",
    [
        {"format": "regex", "regex": CATASTROPHIC},
        {"body_must_match": [CATASTROPHIC]},
        {"body_must_not_match": [r"(x+x+)+y"]},
    ],
)
async def test_http_probe_with_catastrophic_pattern_answers_at_once(
    server: MisbehavingServer, options: dict[str, object]
) -> None:
    server.route("/page", body="a" * 29 + "!" if "regex" in options else "x" * 29 + "!")
    config = HttpProbe.model_validate(
        {"name": "web", "kind": "http", "url": server.url("/page"), **options}
    )
    started = time.perf_counter()
    result = await KIND.run(config, make_context(5.0))
    elapsed = time.perf_counter() - started
    # A second (more on a loaded machine), far below the 5 s a backtracking match would use up.
    assert elapsed < 1.0 + LOADED, elapsed
    expected = Status.OK if "body_must_not_match" in options else Status.CRITICAL
    assert result.status is expected, result.summary


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(ok)\1", "invalid escape sequence"),
        (r"up(?=time)", "invalid perl operator"),
        (r"(?<!not )ok", "invalid perl operator"),
        (r"a{5000}", "invalid repetition size"),
        ("x" * 1001, "longer than 1000 characters"),
    ],
)
def test_patterns_re2_refuses_are_errors(pattern: str, reason: str) -> None:
    with pytest.raises(UserRegexError, match=reason):
        check_user_regex(pattern)


def test_refused_patterns_are_config_errors_with_their_path() -> None:
    text = textwrap.dedent(r"""
        probes:
          - name: web
            kind: http
            url: http://127.0.0.1:1/
            format: regex
            regex: '(ok)\1'
          - {name: shop, kind: http, url: 'http://127.0.0.1:1/', body_must_match: [ok, 'a(?=b)']}
          - {name: smtp, kind: tcp, host: 127.0.0.1, port: 25, expect: '^(?!5)'}
    """)
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(text, default_registry())
    errors = [str(error) for error in caught.value.errors]
    assert len(errors) == 3, errors
    assert errors[0].startswith("probes[0].regex (line 7): invalid regular expression: ")
    assert errors[1].startswith("probes[1].body_must_match[1] (line 8): invalid regular expr")
    assert errors[2].startswith("probes[2].expect (line 9): invalid regular expression: ")
    assert all("RE2 syntax" in error and "\n" not in error for error in errors)


def test_re2_syntax_people_use_is_accepted() -> None:
    for pattern in (r"iamalive", r"(?i)status:\s*up", r"\bok\b", r"^[[:alpha:]]+$", r"(?P<v>\d+)"):
        check_user_regex(pattern)
    assert user_regex_search(r"(?i)status:\s*up", "Status:  UP")
    assert user_regex_search("héllo", "say héllo")


def test_an_annotation_regex_is_compiled_by_re2() -> None:
    settings = DiscoverySettings.model_validate({"allowed_annotations": ["regex"]})
    annotated = {"site-status.io/probe": "true", "site-status.io/format": "regex"}

    def discovered(pattern: str) -> ProbeConfig:
        obj = service("web", **annotated, **{"site-status.io/regex": pattern})
        (found,) = discovered_probes(HTTP, [obj], [], "shop", settings)
        return found

    refused = discovered(r"(up)\1")
    assert isinstance(refused, DiscoveryProblem)
    assert "invalid regular expression: invalid escape sequence" in refused.reason
    accepted = discovered(CATASTROPHIC)
    assert not isinstance(accepted, DiscoveryProblem)
    assert accepted.regex == CATASTROPHIC  # type: ignore[attr-defined]
