"""Fuzzing the config loader: random YAML text, random bytes in a file, random documents built
from the config's own keys, random ``SITE_STATUS_*`` overrides. Always a config or a
``ConfigInvalid`` with clear one-line errors, never another exception, and quickly."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import ConfigInvalid, SiteStatusConfig, load_config, parse_config
from exporter.registry import KindRegistry, default_registry

REGISTRY: KindRegistry = default_registry()
#: CPU seconds each example may take (thread time: a loaded machine's stall does not count;
#: the hypothesis deadline, in wall time, is looser).
SECONDS_PER_EXAMPLE = 1.0

KEYS = [
    "site", "name", "environment", "tier", "profile", "maintenance", "start", "end", "weekday",
    "timezone", "reports", "file", "loki", "url", "basic_auth", "username", "password_file",
    "defaults", "interval", "timeout", "jitter", "exporter", "listen", "concurrency", "probes",
    "kind", "path", "max_age", "warning", "critical", "used_percent", "depends_on", "regex",
    "format", "headers", "expect_status", "load5", "kubernetes", "enabled", "discovery",
]  # fmt: skip
KINDS = ["disk", "load", "file", "mount", "http", "tcp", "dns", "drupal", "nope"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["30s", "5m", "1h30m", "10KiB", "~:20", "@1:2", "priprod", "http://x/", "/"]),
    st.sampled_from(KINDS),
    st.text(max_size=30),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), children, max_size=6
        ),
    ),
    max_leaves=40,
)
PROBES = st.lists(
    st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=12), "kind": st.sampled_from(KINDS)},
        optional={key: DOCUMENTS for key in KEYS if key not in ("name", "kind")},
    ),
    max_size=4,
)
ENV_NAMES = st.sampled_from(
    [
        "SITE__NAME", "SITE__TIER", "SITE__TEIR", "SITE__MAINTENANCE", "DEFAULTS__INTERVAL",
        "DEFAULTS__TIMEOUT", "EXPORTER__LISTEN", "EXPORTER__CONCURRENCY", "PROBES", "REPORTS",
        "REPORTS__LOKI__URL", "REPORTS__LOKI", "KUBERNETES__ENABLED", "SITE", "NOPE__X", "",
    ]
)  # fmt: skip
ENV_VALUES = st.one_of(
    st.sampled_from(['{"name": "x"}', "[]", '[{"name": "a", "kind": "load"}]', "{", "null"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=40),
)


def check_outcome(load: Any) -> SiteStatusConfig | None:
    """Run ``load()``: a config, or clear errors; anything else fails the test."""
    started = time.thread_time()
    try:
        config: SiteStatusConfig = load()
    except ConfigInvalid as invalid:
        assert invalid.errors, "ConfigInvalid without errors"
        for error in invalid.errors:
            text = str(error)
            assert error.message and "\n" not in text and len(text) < 1200, text
        return None
    finally:
        assert time.thread_time() - started < SECONDS_PER_EXAMPLE
    assert isinstance(config, SiteStatusConfig)
    return config


@contextlib.contextmanager
def environment(overrides: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@settings(max_examples=150, deadline=5000)
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check_outcome(lambda: parse_config(text, REGISTRY))


YAML_PIECES = st.sampled_from(
    [
        "site:", "probes:", "- ", "  ", "{", "}", "[", "]", ": ", ", ", "&a ", "*a", "<<: ",
        "!!str ", "!!python/object:os.system ", "? ", "|\n", ">\n", "'", '"', "#", "\n", "\t",
        "---\n", "...\n", "%YAML 1.1\n", "name: x", "kind: load", "kind: http", "url: http://x/",
        "interval: 5s", "\ufeff", "\x00", "\x85", "\u2028",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=5000)
@given(st.lists(st.one_of(YAML_PIECES, st.text(max_size=5)), max_size=60).map("".join))
def test_random_yaml_shaped_text(text: str) -> None:
    check_outcome(lambda: parse_config(text, REGISTRY))


@settings(max_examples=100, deadline=5000)
@given(st.binary(max_size=400))
def test_random_bytes_in_a_file(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "site.yaml"
    path.write_bytes(data)
    check_outcome(lambda: load_config(path, REGISTRY))


@settings(max_examples=150, deadline=5000)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "site": DOCUMENTS,
            "defaults": DOCUMENTS,
            "reports": DOCUMENTS,
            "exporter": DOCUMENTS,
            "probes": st.one_of(PROBES, DOCUMENTS),
        },
    )
)
def test_random_documents_of_known_keys(document: dict[str, Any]) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    check_outcome(lambda: parse_config(text, REGISTRY))


@settings(max_examples=150, deadline=5000)
@given(
    st.dictionaries(ENV_NAMES.map(lambda name: "SITE_STATUS_" + name), ENV_VALUES, max_size=4),
    st.sampled_from(["", "site: {name: x}\n", "probes: [{name: a, kind: load}]\n"]),
)
def test_random_environment_overrides(overrides: dict[str, str], text: str) -> None:
    with environment(overrides):
        check_outcome(lambda: parse_config(text, REGISTRY))
