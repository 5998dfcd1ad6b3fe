"""The CI snippets in docs/ci are valid YAML and every gate they run is one the CLI accepts."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import build_parser

SNIPPETS = Path(__file__).resolve().parents[2] / "docs" / "ci"


def commands(node: Any) -> Iterator[str]:
    """Every shell line of a workflow (``run:``) or pipeline (``script:``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            elif key == "script" and isinstance(value, list):
                yield from value
            else:
                yield from commands(value)
    elif isinstance(node, list):
        for item in node:
            yield from commands(item)


@pytest.mark.parametrize("snippet", sorted(SNIPPETS.glob("*.yml")), ids=lambda p: p.name)
def test_every_gate_in_the_snippet_parses(snippet: Path) -> None:
    gates = [
        # The CI variable as a runner would expand it (the gate wants a URL with its scheme).
        line.split("|")[0].replace('"$PROMETHEUS_URL"', "http://prometheus:9090")
        for line in commands(yaml.safe_load(snippet.read_text()))
        if line.startswith("site-status gate")
    ]
    assert len(gates) == 2  # before the deploy, and the watch after it
    for line in gates:
        words = shlex.split(line)
        args = build_parser().parse_args(words[1:])
        assert args.command == "gate"
        assert args.prometheus == "http://prometheus:9090"
        assert [m.promql() for m in args.match] == ['tier="priprod"', 'environment="prod"']
    before, after = (build_parser().parse_args(shlex.split(g)[1:]) for g in gates)
    assert after.watch == 3600
    # The window is checked before the deploy, where it can stop it; never after.
    assert before.window and before.watch is None
    assert after.window is None
    lines = list(commands(yaml.safe_load(snippet.read_text())))
    deploy = lines.index("./deploy.sh")
    assert lines.index(next(line for line in lines if "--window" in line)) < deploy
