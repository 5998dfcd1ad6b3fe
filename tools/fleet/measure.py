"""Readings: CPU and memory from /proc, Prometheus' APIs, dashboard queries as Grafana runs."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import statistics
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.mixin.dashboard_queries import all_of, dashboards, interpolate, panels

_CLOCK_TICK = os.sysconf("SC_CLK_TCK")
_SAMPLES_APPENDED = re.compile(
    rb"^prometheus_tsdb_head_samples_appended_total(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE
)


# --- /proc --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of a process: its own and its reaped children's (drush runs)."""

    at: float
    own: float
    children: float

    @property
    def total(self) -> float:
        return self.own + self.children


def cpu(pid: int) -> Cpu:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    own = (int(fields[11]) + int(fields[12])) / _CLOCK_TICK
    children = (int(fields[13]) + int(fields[14])) / _CLOCK_TICK
    return Cpu(time.monotonic(), own, children)


@dataclass(frozen=True)
class Memory:
    pss_mib: float
    rss_mib: float


def memory(pid: int) -> Memory:
    """PSS and RSS from /proc/PID/smaps_rollup (PSS shares each page among its users)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Pss", "Rss"):
            values[name] = int(rest.split()[0]) / 1024
    return Memory(values["Pss"], values["Rss"])


def pss_by_mapping(pid: int) -> dict[str, float]:
    """PSS (MiB) of one process by what is mapped: the Python heap and other anonymous memory,
    the interpreter and extension modules, other shared libraries, other files."""
    totals: dict[str, float] = {}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=5)
        if len(first) >= 5 and "-" in first[0] and ":" not in first[0]:
            path = first[5].strip() if len(first) > 5 else ""
            if not path or path.startswith("["):
                kind = "anonymous (heap, stacks)"
            elif "python" in path or path.endswith(
                (".cpython-311-x86_64-linux-gnu.so", ".abi3.so")
            ):
                kind = "Python interpreter and extension modules"
            elif ".so" in path:
                kind = "other shared libraries"
            else:
                kind = "other files"
        elif line.startswith("Pss:"):
            totals[kind] = totals.get(kind, 0.0) + int(line.split()[1]) / 1024
    return totals


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent outside idle and iowait (all CPUs), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / _CLOCK_TICK


# --- Prometheus ---------------------------------------------------------------------------------


class PrometheusApi:
    """GETs on one keep-alive connection; ``timed`` returns the latency as the client saw it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def timed(self, path: str, params: dict[str, str] | list[tuple[str, str]]) -> tuple[float, Any]:
        query = urllib.parse.urlencode(params)
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                before = time.perf_counter()
                self.connection.request("GET", f"{path}?{query}" if query else path)
                response = self.connection.getresponse()
                body = response.read()
                latency = time.perf_counter() - before
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
                continue
            document = json.loads(body) if body[:1] in (b"{", b"[") else body
            if response.status != 200:
                raise RuntimeError(f"Prometheus {path} answered {response.status}: {body[:300]!r}")
            return latency, document
        raise AssertionError("unreachable")

    def get(self, path: str, params: dict[str, str] | list[tuple[str, str]] | None = None) -> Any:
        return self.timed(path, params or {})[1]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        result: list[dict[str, Any]] = self.get("/api/v1/query", params)["data"]["result"]
        return result

    def scalar(self, expr: str) -> float:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        result: list[dict[str, Any]] = self.get("/api/v1/query_range", params)["data"]["result"]
        return result

    def samples_appended(self) -> float:
        match = _SAMPLES_APPENDED.search(self.get("/metrics"))
        return float(match[1]) if match else math.nan

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def label_cardinalities(api: PrometheusApi, selector: str) -> dict[str, int]:
    """Label name -> number of values among the series that ``selector`` matches."""
    names: list[str] = api.get("/api/v1/labels", [("match[]", selector)])["data"]
    counts = {}
    for name in names:
        if name == "__name__":
            continue
        values = api.get(f"/api/v1/label/{name}/values", [("match[]", selector)])["data"]
        counts[name] = len(values)
    return counts


# --- dashboards ---------------------------------------------------------------------------------


@dataclass
class QueryTiming:
    dashboard: str
    panel: str
    kind: str  # range | instant | variable
    expr: str
    latencies_ms: list[float]
    series: int

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p90_ms(self) -> float:
        """Interpolated between the runs around it (one run: that run)."""
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=10, method="inclusive")[-1]

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms)


def grafana_step(range_seconds: float, scrape_interval: float, max_points: int = 1000) -> float:
    """Grafana's ``$__interval`` for a panel: the range over the data points a panel draws,
    at least the data source's scrape interval (whole seconds)."""
    return max(scrape_interval, float(math.ceil(range_seconds / max_points)))


def dashboard_timings(
    api: PrometheusApi,
    start: float,
    end: float,
    scrape_interval: float,
    site_choices: list[str],
    repetitions: int,
    cluster: str = "",
) -> list[QueryTiming]:
    """Every Prometheus query of every dashboard, as Grafana sends it over ``start..end``:
    range panels to /api/v1/query_range with the panel's step, instant (table) panels to
    /api/v1/query at the end, template variables to /api/v1/label/NAME/values. The fleet
    dashboard with every variable on All (``.*``), the site dashboard once per site chosen, in
    ``cluster`` (empty: one Prometheus, whose series have no cluster label)."""
    step = grafana_step(end - start, scrape_interval)
    rate = max(step + scrape_interval, 4 * scrape_interval)
    builtins = {
        "__interval": f"{step:g}s",
        "__rate_interval": f"{rate:g}s",
        "__range": f"{math.ceil(end - start)}s",
        "__auto": f"{step:g}s",
    }
    choices = {
        "site-status-fleet.json": [
            {"cluster": ".*", "environment": ".*", "tier": ".*", "profile": ".*"}
        ],
        "site-status-site.json": [
            {"cluster": cluster, "environment": "prod", "site": site} for site in site_choices
        ],
    }
    timings: list[QueryTiming] = []
    for name, document in dashboards().items():
        values_list = choices.get(name, [{}])
        for variable in document.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
            if not match:
                continue
            selector, label = match.groups()
            timing = QueryTiming(name, f"variable ${variable['name']}", "variable", selector, [], 0)
            for values in values_list:
                pairs = [
                    ("match[]", interpolate(selector, {**builtins, **values})),
                    ("start", f"{start:.3f}"),
                    ("end", f"{end:.3f}"),
                ]
                for _ in range(repetitions):
                    latency, document_ = api.timed(f"/api/v1/label/{label}/values", pairs)
                    timing.latencies_ms.append(1000 * latency)
                    timing.series = len(document_["data"])
                if variable["name"] not in values:  # a derived (hidden) variable: on All
                    values[variable["name"]] = all_of(document_["data"])
            timings.append(timing)
        for panel in panels(document):
            for target in panel.get("targets", []):
                if target.get("datasource", {}).get("type") != "prometheus":
                    continue
                instant = bool(target.get("instant"))
                timing = QueryTiming(
                    name, panel["title"], "instant" if instant else "range", target["expr"], [], 0
                )
                for values in values_list:
                    expr = interpolate(target["expr"], {**builtins, **values})
                    for _ in range(repetitions):
                        params: dict[str, str]
                        if instant:
                            params = {"query": expr, "time": f"{end:.3f}"}
                            latency, answer = api.timed("/api/v1/query", params)
                        else:
                            params = {
                                "query": expr,
                                "start": f"{start:.3f}",
                                "end": f"{end:.3f}",
                                "step": f"{step:g}",
                            }
                            latency, answer = api.timed("/api/v1/query_range", params)
                        if answer.get("status") != "success":
                            raise RuntimeError(f"{panel['title']}: {answer}")
                        timing.latencies_ms.append(1000 * latency)
                        timing.series = max(timing.series, len(answer["data"]["result"]))
                timings.append(timing)
    return timings


def loki_query_count() -> int:
    """Dashboard queries on the Loki data source (not run: the stand-in has no query API)."""
    return sum(
        1
        for document in dashboards().values()
        for panel in panels(document)
        for target in panel.get("targets", [])
        if target.get("datasource", {}).get("type") == "loki"
    )


_RULE_GROUP_LINE = re.compile(
    r"^prometheus_rule_group_(iterations_missed_total|last_duration_seconds|iterations_total)"
    r'\{rule_group="[^"]*;([^"]+)"\} (\S+)$'
)


def rule_group_health(port: int) -> dict[str, dict[str, float]]:
    """Per rule group, from Prometheus' own /metrics: iterations run and missed (an evaluation
    that overran its interval makes Prometheus skip the next one) and the last duration."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    groups: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        match = _RULE_GROUP_LINE.match(line)
        if match:
            groups.setdefault(match[2], {})[match[1]] = float(match[3])
    return groups
