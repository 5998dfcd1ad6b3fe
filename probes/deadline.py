"""A probe's own deadline, set before the runner's so that a timeout is graded, not UNKNOWN.

The runner cancels a run at its timeout and reports UNKNOWN "timed out after 10s". A kind whose
docs promise a graded timeout (a DNS server that never answers is CRITICAL) must therefore give
up on its own first, early enough to grade and clean up even when the event loop was busy for a
moment at that instant: ``OWN_DEADLINE_MARGIN`` before the runner's deadline, or a tenth of the
timeout for short timeouts. Libraries' own timeouts are not trusted to end on time (dnspython's
``lifetime`` overshoots by its retry backoff): the I/O runs inside a cancel scope that ends at
the probe's deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from exporter.blocking import BlockingTimeout
from exporter.probe_api import ProbeContext

T = TypeVar("T")

#: Seconds between the probe's own deadline and the runner's (at most a tenth of the timeout).
OWN_DEADLINE_MARGIN = 0.25


def own_budget(context: ProbeContext) -> float:
    """Seconds the probe's I/O may still take: the rest of the run, less the margin."""
    return max(0.0, context.remaining() - min(OWN_DEADLINE_MARGIN, context.timeout / 10))


async def blocking_within(
    context: ProbeContext, func: Callable[..., T], *args: Any, resource: str | None
) -> T:
    """``context.blocking`` that ends at the probe's own deadline (``BlockingTimeout``).

    A call still running then is abandoned by the blocking runner, and its resource marked
    stuck, exactly as at the runner's deadline.
    """
    budget = own_budget(context)
    with anyio.move_on_after(budget):
        return await context.blocking(func, *args, resource=resource)
    raise BlockingTimeout(resource, budget)
