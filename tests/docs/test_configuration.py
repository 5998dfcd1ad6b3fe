"""docs/configuration.md lists every config key once, and no key the models do not have.

The config models are walked from the root (``SiteStatusConfig``) and from every built-in probe
kind's model; each block of the document (a heading whose first code span names a config path
such as ``reports.loki``, or a kind such as ``http``) has one table whose header starts with
``field``, and the keys in its first column (``basic_auth.username`` for a nested model) must be
exactly the model's. Threshold models (``{warning, critical}``) are leaves, explained once under
"Thresholds". The YAML examples of the document must validate too.
"""

from __future__ import annotations

import re
import textwrap
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from exporter.config import SiteStatusConfig, parse_config
from exporter.probe_api import ProbeConfig
from exporter.registry import BUILTIN_KIND_NAMES, default_registry
from exporter.thresholds import Limits
from tests.docs.snippets import fenced_blocks

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^(#{2,6})\s+(.+?)\s*$", re.MULTILINE)
CODE = re.compile(r"`([^`\n]+)`")


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models in ``X``, ``X | None``, ``tuple[X | Y, ...]``, ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found += models_in(argument)
    return found


def keys(
    model: type[BaseModel], prefix: str = "", own_sections: frozenset[str] = frozenset()
) -> set[str]:
    """Every key path a user may write under ``model``; a nested model's keys as ``a.b``."""
    found: set[str] = set()
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        nested = [m for m in models_in(field.annotation) if not issubclass(m, Limits)]
        if path in own_sections:
            continue
        if not nested:
            found.add(path)
        for sub in nested:
            found |= keys(sub, path + ".", own_sections)
    return found


def kind_models() -> dict[str, type[BaseModel]]:
    registry = default_registry()
    return {kind.name: kind.config for kind in registry.load(BUILTIN_KIND_NAMES)}


def expected_sections() -> dict[str, set[str]]:
    """Documented block name -> the key paths it must list."""
    roots = {
        name
        for name, field in SiteStatusConfig.model_fields.items()
        if name != "probes" and models_in(field.annotation)
    }
    nested = {"reports.loki"}  # blocks with a section of their own
    sections: dict[str, set[str]] = {}
    for root in roots:
        model = models_in(SiteStatusConfig.model_fields[root].annotation)[0]
        own = frozenset(path.removeprefix(root + ".") for path in nested if path.startswith(root))
        sections[root] = keys(model, "", own)
    loki = models_in(SiteStatusConfig.model_fields["reports"].annotation)[0].model_fields["loki"]
    sections["reports.loki"] = keys(models_in(loki.annotation)[0])
    common = keys(ProbeConfig)
    sections["probes"] = common
    for name, model in kind_models().items():
        sections[name] = keys(model) - common
    return sections


def prose(text: str) -> str:
    return FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), text)


def documented_sections(text: str) -> dict[str, list[list[str]]]:
    """Block name -> the key lists of its ``field`` tables (one list per table)."""
    text = prose(text)
    headings = list(HEADING.finditer(text))
    sections: dict[str, list[list[str]]] = {}
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        body = text[heading.end() : end]
        tables = field_tables(body)
        name = CODE.search(heading.group(2))
        if name is None:
            assert not tables, f"a field table under {heading.group(2)!r}, which names no block"
            continue
        assert name.group(1) not in sections, f"two sections for {name.group(1)}"
        sections[name.group(1)] = tables
    return sections


def field_tables(body: str) -> list[list[str]]:
    tables: list[list[str]] = []
    rows: list[str] | None = None
    for line in body.splitlines():
        if not line.startswith("|"):
            rows = None
            continue
        first = line.strip("|").split("|", 1)[0].strip()
        if rows is None:
            rows = [] if first == "field" else None
            if rows is not None:
                tables.append(rows)
        elif not set(first) <= set("-: "):
            rows += CODE.findall(first)
    return tables


def test_every_key_is_documented_once_and_nothing_else() -> None:
    documented = documented_sections(DOCUMENT.read_text())
    expected = expected_sections()
    assert sorted(set(expected) - set(documented)) == [], "blocks with no section"
    problems: list[str] = []
    for name, paths in expected.items():
        tables = documented[name]
        if len(tables) != 1:
            problems.append(f"{name}: {len(tables)} field tables, want 1")
            continue
        listed = tables[0]
        twice = sorted({key for key in listed if listed.count(key) > 1})
        missing = sorted(paths - set(listed))
        unknown = sorted(set(listed) - paths)
        problems += [f"{name}: listed twice: {k}" for k in twice]
        problems += [f"{name}: not documented: {k}" for k in missing]
        problems += [f"{name}: no such key: {k}" for k in unknown]
    assert problems == []


def test_thresholds_are_warning_and_critical() -> None:
    # Limits fields are leaves above: their two keys are explained once, under Thresholds.
    assert set(Limits.model_fields) == {"warning", "critical"}
    section = DOCUMENT.read_text().split("### Thresholds", 1)[1].split("\n### ", 1)[0]
    assert "`{warning: X, critical: Y}`" in section


def test_the_checker_sees_a_drift() -> None:
    class Inner(BaseModel):
        a: int = 0

    class Outer(BaseModel):
        inner: Inner = Inner()
        limit: Limits | None = None
        items: tuple[Inner, ...] = ()

    assert keys(Outer) == {"inner.a", "limit", "items.a"}
    text = (
        "# Top\n## `outer`: x\n| field | default | meaning |\n|---|---|---|\n"
        "| `inner.a`, `limit` | 0 | x |\n| `gone` | 1 | y |\n\n## Other\ntext\n"
        "```\n## `not-a-heading`\n```\n"
    )
    assert documented_sections(text) == {"outer": [["inner.a", "limit", "gone"]]}


def example_configs() -> list[str]:
    blocks = fenced_blocks(DOCUMENT, "yaml")
    # A list of probes is shown without its ``probes:`` key.
    return [f"probes:\n{textwrap.indent(b, '  ')}" if b.startswith("- ") else b for b in blocks]


@pytest.mark.parametrize("text", example_configs())
def test_the_examples_validate(text: str) -> None:
    assert isinstance(yaml.safe_load(text), dict)
    parse_config(text, default_registry())
