"""A prometheus_client Collector over the exporter's rows: the reference the fast ``/metrics``
renderer (``exporter.web.metrics.Exposition.render``) is compared with."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.web.metrics import (
    PROBE_STATUS,
    Exposition,
    Row,
    kind_rows,
    label_names,
    probe_rows,
)


def rows(exposition: Exposition) -> Iterator[Row]:
    """Every row, the same data as ``render``."""
    views = exposition.store.views()
    families = exposition.families()
    for view in views:
        yield PROBE_STATUS, (view.name, view.kind), float(view.status)
        yield from probe_rows(view.state)
        yield from kind_rows(view.state, families)
    yield from exposition.global_rows(views)


class SiteStatusCollector(Collector):
    """The exposition's rows as prometheus_client metric families."""

    def __init__(self, exposition: Exposition) -> None:
        self.exposition = exposition

    def collect(self) -> Iterable[Metric]:
        built: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
        for family, values, value in rows(self.exposition):
            metric = built.get(family.name)
            if metric is None:
                labels = label_names(family)
                if family.type == "counter":
                    metric = CounterMetricFamily(family.name, family.help, labels=labels)
                else:
                    metric = GaugeMetricFamily(family.name, family.help, labels=labels)
                built[family.name] = metric
            metric.add_metric(list(values), value)
        return list(built.values())
