"""The config's YAML, parsed within limits, remembering where each value was written.

A 1.3 KB "billion laughs" document (aliases of aliases) expands to hundreds of millions of
values: every walk over it (validation, duplicate keys) would run for minutes and take GiBs.
Before anything walks the document, the written nodes, the aliases and the nesting are counted
from the parser's events (cheap, streaming), and the size the aliases expand to is computed on
the node graph, each shared node counted once per use but visited once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import yaml

from exporter.config_errors import ConfigError, format_path

#: Values written in the file (a 500-probe config has about 5,000).
MAX_NODES = 200_000
#: Aliases (``*defaults``) in the file.
MAX_ALIASES = 1_000
#: Values once aliases are expanded: what validation has to walk.
MAX_EXPANDED_NODES = 200_000
#: Nesting of mappings and sequences.
MAX_DEPTH = 50

#: libyaml's parser when PyYAML has it: the pure-Python one costs more memory (docs/benchmarks.md).
Loader = _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _tab_named(text: str, line: int, column: int) -> str | None:
    """The usual cause of "found character that cannot start any token", said plainly: a tab
    where YAML wants spaces (libyaml's message does not name the character)."""
    lines = text.splitlines()
    written = lines[line] if 0 <= line < len(lines) else ""
    tab = written.find("\t", 0, column + 1)
    if tab < 0:
        return None
    return f"a tab at column {tab + 1}: YAML indents with spaces, never tabs"


class YamlLimitExceeded(Exception):
    """The document is beyond a limit; the message says which."""


class YamlDocument:
    """Parsed YAML that remembers where each value was written, and flags duplicate keys."""

    def __init__(self, node: yaml.Node | None, data: Any, errors: list[ConfigError]) -> None:
        self._node = node
        self.data = data
        self.errors = errors

    @classmethod
    def parse(cls, text: str) -> YamlDocument:
        """The document, or ``ConfigError`` raised inside ``YamlError``."""
        try:
            check_events(text)
            node = yaml.compose(text, Loader=_Loader)
            check_expanded_size(node)
            data = _Loader("").construct_document(node) if node is not None else {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            problem = getattr(error, "problem", None) or str(error)
            line = mark.line + 1 if mark else None
            if mark is not None:
                problem = _tab_named(text, mark.line, mark.column) or problem
            raise YamlError(ConfigError("", f"invalid YAML: {problem}", line)) from None
        except YamlLimitExceeded as error:
            raise YamlError(ConfigError("", str(error))) from None
        except RecursionError:
            raise YamlError(ConfigError("", f"nested deeper than {MAX_DEPTH} levels")) from None
        errors = [
            ConfigError(path, "duplicate key", line) for path, line in _duplicate_keys(node, ())
        ]
        return cls(node, {} if data is None else data, errors)

    def line(self, loc: Sequence[Any]) -> int | None:
        """The line of the value at ``loc``, or of its nearest written parent (missing keys)."""
        node = self._node
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                child = node.value[part] if 0 <= part < len(node.value) else None
            if child is None:
                break
            node = child
        return node.start_mark.line + 1 if node is not None else None


class YamlError(Exception):
    def __init__(self, error: ConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def check_events(
    text: str,
    max_nodes: int = MAX_NODES,
    max_aliases: int = MAX_ALIASES,
    what: str = "a config",
) -> None:
    """Count nodes, aliases and depth from the parser's events, before any node is built."""
    nodes = aliases = depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > max_nodes:
                raise YamlLimitExceeded(f"more than {max_nodes} values: not {what}")
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > max_aliases:
                raise YamlLimitExceeded(
                    f"more than {max_aliases} aliases" if max_aliases else f"aliases in {what}"
                )
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else None
                where = f" (at line {line})" if line else ""
                raise YamlLimitExceeded(f"nested deeper than {MAX_DEPTH} levels{where}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def check_expanded_size(root: yaml.Node | None) -> None:
    """Raise if expanding the aliases gives too many values, nests too deep, or an alias
    contains itself."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    visiting: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in measured:
            return measured[key]
        if key in visiting:
            raise YamlLimitExceeded("an alias refers to a value that contains it")
        visiting.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        values, depth = 1, 0
        for child in children:
            child_values, child_depth = measure(child)
            values += child_values
            depth = max(depth, child_depth)
        visiting.discard(key)
        if values > MAX_EXPANDED_NODES:
            raise YamlLimitExceeded(
                f"aliases expand to more than {MAX_EXPANDED_NODES} values: not a config"
            )
        if depth + 1 > MAX_DEPTH:
            raise YamlLimitExceeded(f"nested deeper than {MAX_DEPTH} levels (through aliases)")
        measured[key] = (values, depth + 1)
        return measured[key]

    if root is not None:
        measure(root)


def _duplicate_keys(node: yaml.Node | None, loc: tuple[Any, ...]) -> Iterator[tuple[str, int]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            if isinstance(key, yaml.ScalarNode):
                if name in seen:
                    yield format_path((*loc, name)), key.start_mark.line + 1
                seen.add(name)
            yield from _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))
