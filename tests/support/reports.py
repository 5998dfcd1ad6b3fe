"""Every report a test sees is checked against the published schema (exporter/reports/schemas)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema

from exporter.reports.schema import SCHEMA_RESOURCE


def load_schema() -> dict[str, Any]:
    """The JSON Schema of version 1, as shipped in the package."""
    text = resources.files("exporter.reports").joinpath(SCHEMA_RESOURCE).read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_report(report: Any) -> None:
    """Raise ``jsonschema.ValidationError`` with the path if ``report`` breaks schema v1."""
    _validator().validate(report)
