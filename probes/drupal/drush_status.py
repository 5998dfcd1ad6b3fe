"""``drush status --format=json``: the versions of Drupal, PHP and Drush, secrets removed first.

``drush status`` prints a flat object (``drupal-version``, ``php-version``, ``drush-version``,
``db-status``, ``bootstrap``; keys are absent when the bootstrap failed) that also holds
``db-password``. Secret-looking keys are dropped the moment the JSON is parsed, and only a few
known keys are kept at all. It costs a Drupal bootstrap, so it runs at a long interval and its
answer is kept between runs (``StatusCache``, one per probe, in the runtime's shared objects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from exporter.redact import redact_urls_in
from probes.drupal.drush_requirements import MAX_JSON_CANDIDATES, decoded, plain_text

#: The keys kept; everything else (paths, database settings) is dropped.
KEPT_FIELDS = ("drupal-version", "php-version", "drush-version", "bootstrap", "db-status")
VERSION_FIELDS = ("drupal-version", "php-version", "drush-version")
#: Keys that hold or may hold a credential: never kept, whatever else happens.
SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|(^|[-_])key$|credential|auth|salt|cookie", re.I
)
FIELD_CAP = 100
#: A failed ``drush status`` is tried again after at most this long.
RETRY_AFTER = 1800.0
_OBJECT_START = re.compile(r"^[ \t]*\{", re.MULTILINE)


class NoStatusJson(ValueError):
    """stdout holds no JSON object."""


def status_fields(stdout: bytes) -> dict[str, str]:
    """The kept fields of a ``drush status`` answer, as short plain strings."""
    document = _first_object(stdout.decode("utf-8", errors="replace"))
    fields = without_secrets(document)
    return {key: plain_text(fields[key], FIELD_CAP) for key in KEPT_FIELDS if key in fields}


def without_secrets(document: dict[str, Any]) -> dict[str, Any]:
    """The object without secret-looking keys; URLs in string values lose their passwords."""
    return {
        key: redact_urls_in(value) if isinstance(value, str) else value
        for key, value in document.items()
        if not SECRET_KEY.search(key)
    }


def _first_object(text: str) -> dict[str, Any]:
    for tries, match in enumerate(_OBJECT_START.finditer(text)):
        if tries >= MAX_JSON_CANDIDATES:
            break
        found = decoded(text, match.end() - 1)
        if found is not None and isinstance(found[0], dict):
            return found[0]
    raise NoStatusJson("no JSON object in drush status output")


@dataclass
class StatusCache:
    """The last ``drush status`` answer of one probe, and when to ask again (monotonic)."""

    fields: dict[str, str] = field(default_factory=dict)
    checked_at: float | None = None
    next_check: float = 0.0
    error: str | None = None

    def due(self, now: float) -> bool:
        return now >= self.next_check

    def succeeded(self, fields: dict[str, str], now: float, interval: float) -> None:
        self.fields, self.checked_at, self.error = fields, now, None
        self.next_check = now + interval

    def failed(self, error: str, now: float, interval: float) -> None:
        """Keep the last good fields; try again sooner than after a success."""
        self.error = error
        self.next_check = now + min(interval, RETRY_AFTER)

    def versions(self) -> tuple[str, str, str] | None:
        """(drupal, php, drush), or None if no version is known."""
        values = tuple(self.fields.get(key, "") for key in VERSION_FIELDS)
        return (values[0], values[1], values[2]) if any(values) else None
