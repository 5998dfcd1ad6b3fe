"""Benchmark: the memory of one ``site-status run`` with the fleet's Drupal-site profile.

The config is the one the fleet simulation gives a Drupal site (tools/fleet/configs.py: a drupal
probe through the drush stand-in, an http probe, file, disk, load and mount probes, reports to
Loki); a loopback server answers the healthz probe and accepts the Loki pushes. After
``--duration`` seconds (a few rounds of every probe) it prints PSS, RSS and private memory from
/proc/PID/smaps_rollup, and PSS by mapping (the fleet's helper). PSS of one lone exporter is
higher than in a fleet, where its libraries' pages are shared by many processes.

``--python`` runs the exporter with another interpreter, e.g. a venv with only the runtime
dependencies (``pip install .``), as in the image: the test venv also holds trio (through
selenium), which httpcore imports whenever it is installed.

    PYTHONPATH=. python bench/bench_pss.py [--duration 20] [--python PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tools.fleet.configs import drush_wrapper, site_document, write_shared_files, write_site
from tools.fleet.measure import pss_by_mapping
from tools.fleet.plan import Site, Timing
from tools.fleet.processes import free_port
from tools.processes import site_status_env, started_child, stop, wait_ready

#: The issue's target for the fleet (where shared pages are split among ~200 exporters).
PSS_TARGET_MIB = 32.0
_STATUS = re.compile(r'^site_status_probe_status\{probe="([^"]+)"[^}]*\} (\S+)$', re.M)
_HEALTHY = b'{"status": "ok", "checks": {"database": {"status": "ok"}}}'


class _Peer(BaseHTTPRequestHandler):
    """Healthz (GET: 200 with a JSON body) and Loki's push API (POST: 204)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_HEALTHY)))
        self.end_headers()
        self.wfile.write(_HEALTHY)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def rollup(pid: int) -> dict[str, float]:
    """MiB of /proc/PID/smaps_rollup: Pss, Rss, Private (clean + dirty), Private_Dirty."""
    kib: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        kib[name] = int(rest.split()[0])
    private = kib["Private_Clean"] + kib["Private_Dirty"]
    return {
        "pss_mib": kib["Pss"] / 1024,
        "rss_mib": kib["Rss"] / 1024,
        "private_mib": private / 1024,
        "private_dirty_mib": kib["Private_Dirty"] / 1024,
    }


def probe_statuses(port: int) -> dict[str, int]:
    """Each probe's status (0 OK ... 3 UNKNOWN) from /metrics: the figures are of a working one."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    return {probe: int(float(value)) for probe, value in _STATUS.findall(body)}


def measured(duration: float, python: str) -> dict[str, object]:
    peer = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    port = peer.server_address[1]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pss-") as tmp:
            workdir = Path(tmp)
            write_shared_files(workdir)
            site = Site(0, "drupal-000", "priprod", "drupal", shared=False, drupal_warning=False)
            document = site_document(
                site,
                timing=Timing.compressed(60.0),
                workdir=workdir,
                nginx_port=port,
                loki_url=f"http://127.0.0.1:{port}",
                drush=drush_wrapper(workdir / "drush"),
                maintenance=[],
            )
            config = write_site(document, workdir, site.name)
            port = free_port()
            argv = [python, "-m", "exporter.cli", "run", "--config", str(config)]
            argv += ["--listen", f"127.0.0.1:{port}"]
            log = workdir / "site-status.log"
            child = started_child("site-status", argv, port, log, site_status_env())
            try:
                wait_ready(child)
                time.sleep(duration)
                figures: dict[str, object] = dict(rollup(child.process.pid))
                figures["pss_by_mapping_mib"] = pss_by_mapping(child.process.pid)
                figures["probe_status"] = probe_statuses(port)
                figures["alive"] = child.alive()
                figures["python"] = python
            finally:
                stop(child)
    finally:
        peer.shutdown()
        peer.server_close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of rounds")
    parser.add_argument(
        "--python", default=sys.executable, help="the exporter's interpreter (default: this one)"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    options = parser.parse_args(argv)
    figures = measured(options.duration, options.python)
    print(
        f"site-status (Drupal profile, alone): PSS {figures['pss_mib']:.1f} MiB, "
        f"RSS {figures['rss_mib']:.1f} MiB, private {figures['private_mib']:.1f} MiB "
        f"(dirty {figures['private_dirty_mib']:.1f}); fleet target PSS <= {PSS_TARGET_MIB:g} MiB"
    )
    print(f"  interpreter: {options.python}; probe status: {figures['probe_status']}")
    by_mapping = figures["pss_by_mapping_mib"]
    assert isinstance(by_mapping, dict)
    for kind, mib in sorted(by_mapping.items()):
        print(f"  PSS {kind}: {mib:.1f} MiB")
    if options.json:
        print(json.dumps(figures))
    return 0 if figures["alive"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
