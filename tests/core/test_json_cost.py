"""No JSON body can hold the event loop: the worst CPU cost of grading one http answer, for
bodies up to the 1 MiB body cap shaped to cost the most, in every JSON health format.

``json.loads`` and the graders run on the event loop and hold the GIL; a worker thread would
not help (the C decoder never releases it). So what is decoded is bounded instead: at most
``MAX_JSON_VALUES`` values, counted on the text before decoding. Measured on the 2-core
machine of this project: the worst shape under the limit costs about 20 ms, the refusal of
a larger one under 3 ms; before the limit, 1 MiB of small values cost 100-150 ms (twice, with a
``json_field`` assertion).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from probes.http.health import FORMATS
from probes.http.health.common import MAX_JSON_VALUES
from probes.http.probe import HttpExchange, HttpProbe, graded

MiB = 1024 * 1024
#: The event loop may be held at most this long by one answer (issue 13: about 50 ms).
BUDGET_SECONDS = 0.05
N = MAX_JSON_VALUES
JSON_FORMATS = [fmt for fmt in FORMATS if fmt not in ("regex", "k8s", "status-code")]


def costly_bodies() -> Iterator[tuple[str, str]]:
    """Bodies with as many values as are decoded, in the shapes that cost most per value."""
    yield "numbers", "[" + ",".join(["1"] * (N - 1)) + "]"
    yield "empty objects", "[" + ",".join(["{}"] * (N // 2 - 1)) + "]"
    yield "object keys", "{" + ",".join(f'"k{i}":{i}' for i in range(N)) + "}"
    yield "escaped strings", "[" + ",".join(['"' + 'é\\"' * 48 + '"'] * (N - 1)) + "]"
    checks = {f"c{i}:m": [{"status": "fail", "output": "x"}] for i in range(N // 4 - 1)}
    yield "health checks", json.dumps({"status": "fail", "checks": checks})
    components = {f"c{i}": {"status": "DOWN"} for i in range(N // 2 - 2)}
    yield "spring components", json.dumps({"status": "DOWN", "components": components})
    depth = 450
    yield (
        "deep components",
        ('{"status":"DOWN","components":{"c":' * depth + '{"status":"DOWN"}' + "}}" * depth),
    )
    yield "one long string", json.dumps({"status": "pass", "output": 'é"\\' * (MiB // 13)})


def refused_bodies() -> Iterator[tuple[str, str]]:
    """1 MiB bodies with far more values (each took 30-150 ms to decode)."""
    yield "numbers", "[" + ",".join(["1"] * (MiB // 2 - 1)) + "]"
    yield "empty objects", "[" + ",".join(["{}"] * (MiB // 3 - 1)) + "]"
    yield "object keys", "{" + ",".join(f'"k{i}":{i}' for i in range(MiB // 15)) + "}"
    yield "nested arrays", "[" * (MiB // 2) + "]" * (MiB // 2)


def grading_seconds(fmt: str, text: str) -> tuple[float, list[str]]:
    """CPU seconds of this thread to grade the answer (the best of 3: GC and neighbours)."""
    body = text.encode()
    assert len(body) <= MiB
    config = HttpProbe.model_validate(
        {
            "name": "x",
            "kind": "http",
            "url": "http://x/",
            "format": fmt,
            "json_field": {"path": "status", "equals": "UP"},  # a second decode
        }
    )
    best, reasons = float("inf"), list[str]()
    for _ in range(3):
        answer = HttpExchange()
        answer.status_code, answer.content_type, answer.body = 503, "application/json", body
        started = time.thread_time()
        _, reasons, _, _ = graded(config, answer)
        best = min(best, time.thread_time() - started)
    return best, reasons


@pytest.mark.parametrize("fmt", JSON_FORMATS)
def test_the_costliest_bodies_hold_the_loop_briefly(fmt: str) -> None:
    costs = {name: grading_seconds(fmt, text)[0] for name, text in costly_bodies()}
    worst = max(costs, key=costs.__getitem__)
    assert costs[worst] < BUDGET_SECONDS, f"{fmt} {worst}: {costs[worst] * 1000:.1f} ms"


@pytest.mark.parametrize(("shape", "text"), list(refused_bodies()))
def test_larger_documents_are_refused_at_once(shape: str, text: str) -> None:
    seconds, reasons = grading_seconds("auto", text)
    assert seconds < BUDGET_SECONDS / 5, f"{shape}: {seconds * 1000:.1f} ms"
    refusal = f"invalid JSON: more than {N} values, not decoded"
    assert any(refusal in reason for reason in reasons), reasons
