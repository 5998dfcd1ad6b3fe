"""The ``discovery`` kind: something Kubernetes discovery could not turn into a probe.

An annotated service with an invalid annotation, or a resource the exporter may not list, is
reported as a probe that is always UNKNOWN with the reason, so it shows on ``/metrics``, in
``/status`` and in the reports instead of silently not being probed.
"""

from __future__ import annotations

from typing import Literal

from exporter.probe_api import ProbeConfig, ProbeContext, ProbeKind, Result
from exporter.status import Status


class DiscoveryProblem(ProbeConfig):
    kind: Literal["discovery"]
    #: What was found, e.g. ``service/frontend``.
    source: str
    reason: str


async def run(config: DiscoveryProblem, context: ProbeContext) -> Result:
    return Result(Status.UNKNOWN, config.reason, {"source": config.source})


KIND = ProbeKind(config=DiscoveryProblem, run=run)
