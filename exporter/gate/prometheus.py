"""Prometheus' HTTP query API as the gate and ``site-status report`` ask it: through the gate's
``Fetcher`` (one total deadline, a body cap, secrets masked), every answer checked for shape.

Errors are the gate's two exceptions: ``SourceRejected`` when Prometheus refuses the query (a
usage error), ``SourceUnreachable`` for anything else.
"""

from __future__ import annotations

from typing import Any

from exporter.gate.fetch import Fetcher
from exporter.gate.model import SourceRejected, SourceUnreachable
from exporter.redact import redact_url

#: Prometheus refuses a range query of more points per series than this (its API's limit).
MAX_RANGE_POINTS = 11000
ERROR_CHARS = 300

Sample = tuple[dict[str, str], str]
Series = tuple[dict[str, str], list[tuple[float, str]]]


def answer_data(fetcher: Fetcher, url: str, path: str, params: dict[str, str]) -> Any:
    """The ``data`` of a successful answer from ``url`` + ``path``."""
    document, code = fetcher.get_json(f"{url}{path}", params)
    shown = redact_url(url)
    if not isinstance(document, dict):
        raise SourceUnreachable(f"{shown}: HTTP {code}, not a Prometheus answer")
    if document.get("status") != "success":
        error = document.get("error")
        text = error[:ERROR_CHARS] if isinstance(error, str) else f"HTTP {code}"
        if document.get("errorType") == "bad_data":
            raise SourceRejected(f"Prometheus refused the query: {text}")
        raise SourceUnreachable(f"{shown}: {text}")
    return document.get("data")


def _labels(metric: object) -> dict[str, str] | None:
    if isinstance(metric, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
    ):
        return metric
    return None


def _point(value: object) -> tuple[float, str] | None:
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int | float)
        and isinstance(value[1], str)
    ):
        return float(value[0]), value[1]
    return None


def _result(data: object, kind: str, where: str) -> list[Any]:
    if not isinstance(data, dict) or data.get("resultType") != kind:
        raise SourceUnreachable(f"{where}: not a Prometheus answer (data is no {kind})")
    result = data.get("result")
    if not isinstance(result, list):
        raise SourceUnreachable(f"{where}: not a Prometheus answer (data.result is no list)")
    return result


def vector_samples(data: object, where: str) -> list[Sample]:
    """The samples of a query's ``data``; ``SourceUnreachable`` unless it is an instant vector
    of ``{"metric": {label: value}, "value": [time, "value"]}``."""
    samples = []
    for sample in _result(data, "vector", where):
        labels = _labels(sample.get("metric")) if isinstance(sample, dict) else None
        point = _point(sample.get("value")) if isinstance(sample, dict) else None
        if labels is None or point is None:
            raise SourceUnreachable(f"{where}: not a Prometheus answer (a malformed sample)")
        samples.append((labels, point[1]))
    return samples


def matrix_series(data: object, where: str) -> list[Series]:
    """The series of a range query's ``data`` (``{"metric", "values": [[time, "v"], ...]}``)."""
    found = []
    for series in _result(data, "matrix", where):
        labels = _labels(series.get("metric")) if isinstance(series, dict) else None
        values = series.get("values") if isinstance(series, dict) else None
        points = [_point(v) for v in values] if isinstance(values, list) else [None]
        if labels is None or any(p is None for p in points):
            raise SourceUnreachable(f"{where}: not a Prometheus answer (a malformed series)")
        found.append((labels, [p for p in points if p is not None]))
    return found


class PrometheusAPI:
    def __init__(self, url: str, fetcher: Fetcher) -> None:
        self.url = url.rstrip("/")
        self.fetcher = fetcher

    def describe(self) -> str:
        return redact_url(self.url)

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = answer_data(self.fetcher, self.url, "/api/v1/query", params)
        return vector_samples(data, self.describe())

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Every ``step`` s of [start, end], in as many requests as Prometheus' point limit
        needs, joined by series."""
        by_series: dict[tuple[tuple[str, str], ...], Series] = {}
        begin = start
        while begin <= end:
            last = min(end, begin + step * (MAX_RANGE_POINTS - 1))
            params = {
                "query": expr,
                "start": f"{begin:.3f}",
                "end": f"{last:.3f}",
                "step": f"{step:g}",
            }
            data = answer_data(self.fetcher, self.url, "/api/v1/query_range", params)
            for labels, points in matrix_series(data, self.describe()):
                key = tuple(sorted(labels.items()))
                by_series.setdefault(key, (labels, []))[1].extend(points)
            begin = last + step
        return list(by_series.values())
