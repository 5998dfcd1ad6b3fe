"""Screenshots of the status page for the README: a real ``site-status run`` per site, with real
probes (an HTTP backend on loopback, this machine's disk and load, files in a temporary
directory), photographed in Debian's headless Chromium.

    .venv/bin/python scripts/screenshot_status_page.py docs/
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.browser import chromium
from tests.support.exporter_process import RunningExporter, running_exporter, wait_until

FAILING_HEALTH = {
    "status": "fail",
    "checks": {
        "database:responseTime": [
            {"status": "fail", "observedValue": 2400, "observedUnit": "ms", "output": "timeout"}
        ],
        "cache:connections": [{"status": "pass", "observedValue": 12}],
    },
}


class Backend(BaseHTTPRequestHandler):
    """``/healthz`` passes (unless ``outage``); ``/api/health`` fails as an IETF health+json
    document."""

    #: Set for a short outage of ``/healthz``: the OK site's history shows it.
    outage = False

    def do_GET(self) -> None:
        failing = self.path == "/api/health" or Backend.outage
        body = json.dumps(FAILING_HEALTH if failing else {"status": "pass"}).encode()
        self.send_response(503 if failing else 200)
        self.send_header("Content-Type", "application/health+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def site_config(workdir: Path, backend: int, failing: bool) -> Path:
    forecast = workdir / "forecast.nc"
    forecast.write_bytes(b"CDF\x01" * 1000)
    if failing:  # three hours old: past the 2 h warning
        os.utime(forecast, (time.time() - 3 * 3600, time.time() - 3 * 3600))
    (workdir / "backup.tar").write_bytes(b"x" * 4096)
    disk = "{warning: 1, critical: 2}" if failing else "{warning: 95, critical: 98}"
    health = "/api/health" if failing else "/healthz"
    backup = workdir / ("missing-backup.tar" if failing else "backup.tar")
    config = workdir / "site.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            site: {{name: os2web-demo, environment: prod, tier: priprod, profile: os2web}}
            reports: {{file: {workdir}/reports.jsonl}}
            defaults: {{interval: 2s, timeout: 1s}}
            probes:
              - {{name: frontpage, kind: http, url: "http://127.0.0.1:{backend}{health}"}}
              - {{name: search, kind: http, url: "http://127.0.0.1:{backend}{health}",
                  depends_on: [frontpage]}}
              - {{name: data-disk, kind: disk, path: /, used_percent: {disk}}}
              - {{name: forecast-file, kind: file, path: {forecast},
                  max_age: {{warning: 2h, critical: 6h}}}}
              - {{name: nightly-backup, kind: file, path: {backup}, critical: false}}
              - {{name: load, kind: load, load5: {{warning: 8, critical: 16}}}}
            """
        )
    )
    return config


def photograph(url: str, path: Path, open_details: bool) -> None:
    with chromium(width=900, height=900) as browser:
        browser.get(url)
        if open_details:  # the worst probe's details, as a reader would open them
            browser.execute_script("document.querySelector('#probes details').open = true")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(900, int(height) + 200)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 900, "height": int(height), "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.5)
        browser.save_screenshot(str(path))


def outage(exporter: RunningExporter) -> None:
    """The front page fails until the exporter has seen it, then recovers."""

    def frontpage() -> str:
        return str(exporter.probe("frontpage")["status"])

    Backend.outage = True
    wait_until(lambda: frontpage() == "CRITICAL", 20)
    time.sleep(2)
    Backend.outage = False
    wait_until(lambda: frontpage() == "OK", 20)


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for failing, name in ((False, "status-page-ok.png"), (True, "status-page-failing.png")):
            with tempfile.TemporaryDirectory(prefix="os2web-demo-") as tmp:
                workdir = Path(tmp)
                config = site_config(workdir, server.server_address[1], failing)
                with running_exporter(config, workdir) as exporter:
                    wait_until(
                        lambda e=exporter: all(p["last_run"] for p in e.status()["probes"]), 20
                    )
                    if not failing:  # it was down for a moment: its history says so
                        outage(exporter)
                    time.sleep(3)  # a few seconds in its status
                    photograph(exporter.url + "/", out / name, open_details=failing)
                print(out / name)
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
