"""Every report a test sees is checked against the published schema (exporter/reports/schemas)."""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from exporter.reports.schema import load_schema


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_report(report: Any) -> None:
    """Raise ``jsonschema.ValidationError`` with the path if ``report`` breaks schema v1."""
    _validator().validate(report)
