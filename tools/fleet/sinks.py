"""The run's receivers, in their own process: the strict Loki double and the webhook recorder.

``python -m tools.fleet.sinks`` prints one JSON line ``{"loki": PORT, "webhook": PORT}`` and
serves until standard input closes. Running apart keeps their CPU (decompressing and checking
200 exporters' pushes) out of the driver, which times the dashboard queries. The webhook port
also answers ``GET /fleet/notifications`` (every notification with its arrival time) and
``GET /fleet/reports`` (every report Loki stored, with its stream labels).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.loki_double import LokiDouble, loki_double


class Recorder:
    def __init__(self, loki: LokiDouble) -> None:
        self.loki = loki
        self.lock = threading.Lock()
        self.notifications: list[dict[str, Any]] = []

    def record(self, receiver: str, body: dict[str, Any]) -> None:
        with self.lock:
            self.notifications.append({"receiver": receiver, "at": time.time(), "body": body})

    def dump_notifications(self) -> bytes:
        with self.lock:
            return json.dumps(self.notifications).encode()

    def dump_reports(self) -> bytes:
        entries = self.loki.stored()
        return json.dumps(
            [{"labels": e.stream, "ns": e.timestamp, "report": e.report()} for e in entries]
        ).encode()


def webhook_server(recorder: Recorder) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            recorder.record(self.path.strip("/"), body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            if self.path == "/fleet/notifications":
                data = recorder.dump_notifications()
            elif self.path == "/fleet/reports":
                data = recorder.dump_reports()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    with loki_double() as loki:
        recorder = Recorder(loki)
        server = webhook_server(recorder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(json.dumps({"loki": loki.port, "webhook": server.server_address[1]}), flush=True)
        sys.stdin.read()
        server.shutdown()


if __name__ == "__main__":
    main()
