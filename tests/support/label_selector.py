"""Label selectors parsed and matched as the API server does (apimachinery ``labels.Parse``).

The grammar of k8s.io/apimachinery/pkg/labels/selector.go: requirements separated by commas,
each ``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``,
``key notin (a,b)``, ``key>N`` or ``key<N``. ``!=`` and ``notin`` also match objects without
the key; ``in``, ``=`` and the comparisons need it. Anything else is a parse error, which the
server answers with 400 BadRequest.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(==|!=|[=!(),<>]|[^\s=!(),<>]+)")
_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_SPECIAL = frozenset({"==", "!=", "=", "!", "(", ")", ",", "<", ">"})


class SelectorError(ValueError):
    """Not a selector the API server would parse."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # exists, !, =, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        try:
            number = int(value or "")
        except ValueError:
            return False  # a label that is not an integer never compares
        limit = int(self.values[0])
        return number > limit if self.operator == "gt" else number < limit


def parse(selector: str) -> list[Requirement]:
    tokens = _tokens(selector)
    requirements: list[Requirement] = []
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise SelectorError("unexpected end of the selector")
        position += 1
        return tokens[position - 1]

    while position < len(tokens):
        if peek() == "!":
            take()
            requirements.append(Requirement(_key(take()), "!"))
        else:
            key = _key(take())
            following = peek()
            if following in (None, ","):
                requirements.append(Requirement(key, "exists"))
            elif following in ("=", "==", "!="):
                take()
                value = "" if peek() in (None, ",") else _value(take())
                operator = "!=" if following == "!=" else "="
                requirements.append(Requirement(key, operator, (value,)))
            elif following in ("<", ">"):
                take()
                number = take()
                if not re.fullmatch(r"-?[0-9]+", number):
                    raise SelectorError("for 'Gt', 'Lt' operators, the value must be an integer")
                operator = "gt" if following == ">" else "lt"
                requirements.append(Requirement(key, operator, (number,)))
            elif following in ("in", "notin"):
                take()
                if take() != "(":
                    raise SelectorError(f"found '{tokens[position - 1]}', expected: '('")
                values: list[str] = []
                while True:
                    token = take()
                    if token == ")":
                        break
                    if token == ",":
                        continue
                    values.append(_value(token))
                if not values:
                    raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
                requirements.append(Requirement(key, str(following), tuple(values)))
            else:
                raise SelectorError(f"found '{following}', expected: '=', '!=', '==', 'in', notin'")
        if peek() is not None and take() != ",":
            raise SelectorError(f"found '{tokens[position - 1]}', expected: ',' or 'end of string'")
        if peek() is None and tokens and tokens[-1] == ",":
            raise SelectorError("found 'end of string', expected: identifier")
    return requirements


def matches(labels: Mapping[str, str], selector: str) -> bool:
    """Whether ``labels`` match; ``SelectorError`` when the selector does not parse."""
    return all(requirement.matches(labels) for requirement in parse(selector))


def _tokens(selector: str) -> list[str]:
    tokens = []
    position = 0
    while position < len(selector):
        if selector[position:].strip() == "":
            break
        found = _TOKEN.match(selector, position)
        if found is None:  # pragma: no cover - the pattern matches any non-space character
            raise SelectorError(f"unexpected character at {position}")
        tokens.append(found.group(1))
        position = found.end()
    return tokens


def _key(token: str) -> str:
    if token in _SPECIAL or not _KEY.fullmatch(token) or len(token.split("/")[-1]) > 63:
        raise SelectorError(f"invalid label key {token!r}")
    return token


def _value(token: str) -> str:
    if token in _SPECIAL or not _VALUE.fullmatch(token) or len(token) > 63:
        raise SelectorError(f"invalid label value {token!r}")
    return token
