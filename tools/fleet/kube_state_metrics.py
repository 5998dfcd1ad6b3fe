"""A kube-state-metrics stand-in: the few series the retirement rule reads, for the fleet's sites.

kube-state-metrics needs an API server, which this machine does not run, so the fleet serves
what it would expose about each site namespace, and nothing else (kube-state-metrics v2, commit
c92fe0c5ce02d3b52abf54490e00db6c706f2ba5 of github.com/kubernetes/kube-state-metrics):

- ``kube_namespace_created{namespace}``: the creation time, while the namespace exists
  (docs/metrics/cluster/namespace-metrics.md);
- ``kube_namespace_status_phase{namespace, phase="Active"|"Terminating"}``, 1 for its phase and
  0 for the other (the same page; internal/store/namespace_test.go shows both series);
- ``kube_deployment_spec_replicas{namespace, deployment}``
  (docs/metrics/workload/deployment-metrics.md);
- ``kube_statefulset_replicas{namespace, statefulset}``
  (docs/metrics/workload/statefulset-metrics.md).

The HELP texts are kube-state-metrics' own, with the ``[STABLE]`` prefix it writes. A deleted
namespace is absent, with everything in it, as after kube-state-metrics' informer drops it.

The driver changes the cluster through ``Cluster`` (a JSON file, replaced atomically); the
stand-in, ``python -m tools.fleet.kube_state_metrics --state FILE --port PORT``, reads that file
at every scrape.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: The exporter's own Deployment in each site namespace (mixin ``exporter_workload``).
EXPORTER_WORKLOAD = "site-status"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HELP = {
    "kube_namespace_created": "[STABLE] Unix creation timestamp",
    "kube_namespace_status_phase": "[STABLE] kubernetes namespace status phase.",
    "kube_deployment_spec_replicas": "[STABLE] Number of desired pods for a deployment.",
    "kube_statefulset_replicas": "[STABLE] Number of desired pods for a StatefulSet.",
}
PHASES = ("Active", "Terminating")


@dataclass
class Namespace:
    created: float
    phase: str = "Active"
    deployments: dict[str, int] = field(default_factory=dict)
    statefulsets: dict[str, int] = field(default_factory=dict)


def _labels(**labels: str) -> str:
    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return ",".join(f'{k}="{escaped(v)}"' for k, v in sorted(labels.items()))


def exposition(namespaces: dict[str, Namespace]) -> str:
    """The text format, one family after the other, as kube-state-metrics writes it."""
    rows: dict[str, list[str]] = {name: [] for name in HELP}
    for ns, state in sorted(namespaces.items()):
        rows["kube_namespace_created"].append(f"{{{_labels(namespace=ns)}}} {state.created:.0f}")
        for phase in PHASES:
            value = 1 if state.phase == phase else 0
            rows["kube_namespace_status_phase"].append(
                f"{{{_labels(namespace=ns, phase=phase)}}} {value}"
            )
        for name, replicas in sorted(state.deployments.items()):
            rows["kube_deployment_spec_replicas"].append(
                f"{{{_labels(deployment=name, namespace=ns)}}} {replicas}"
            )
        for name, replicas in sorted(state.statefulsets.items()):
            rows["kube_statefulset_replicas"].append(
                f"{{{_labels(namespace=ns, statefulset=name)}}} {replicas}"
            )
    lines = []
    for metric, samples in rows.items():
        lines += [f"# HELP {metric} {HELP[metric]}", f"# TYPE {metric} gauge"]
        lines += [metric + sample for sample in samples]
    return "\n".join(lines) + "\n"


class Cluster:
    """The namespaces kube-state-metrics would see; every change is written to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.namespaces: dict[str, Namespace] = {}

    def add(self, namespace: str, created: float, workloads: dict[str, dict[str, int]]) -> None:
        self.namespaces[namespace] = Namespace(
            created,
            deployments={EXPORTER_WORKLOAD: 1, **workloads.get("deployments", {})},
            statefulsets=dict(workloads.get("statefulsets", {})),
        )

    def terminate(self, namespace: str) -> None:
        """``kubectl delete namespace``: Terminating while its objects are removed."""
        self.namespaces[namespace].phase = "Terminating"

    def delete(self, namespace: str) -> None:
        """The namespace is gone, with everything in it."""
        self.namespaces.pop(namespace, None)

    def scale_to_zero(self, namespace: str) -> None:
        """``kubectl scale deployment,statefulset --all --replicas=0`` (k8s/new-site.py)."""
        state = self.namespaces[namespace]
        state.deployments = dict.fromkeys(state.deployments, 0)
        state.statefulsets = dict.fromkeys(state.statefulsets, 0)

    def write(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        document = {name: asdict(state) for name, state in self.namespaces.items()}
        temporary.write_text(json.dumps(document))
        os.replace(temporary, self.path)


def read_state(path: Path) -> dict[str, Namespace]:
    document: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return {name: Namespace(**state) for name, state in document.items()}


def server(state: Path, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/healthz"):
                self.send_error(404)
                return
            body = exposition(read_state(state)).encode() if self.path != "/healthz" else b"OK"
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    return httpd


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fleet.kube_state_metrics")
    parser.add_argument("--state", type=Path, required=True, help="the driver's cluster file")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    try:
        read_state(options.state)
    except (OSError, ValueError, TypeError) as error:
        print(f"kube-state-metrics stand-in: cannot read {options.state}: {error}", file=sys.stderr)
        return 2
    server(options.state, options.port).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
