"""A backend that leaks: it answers with the headers and target of the request it got."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    """``/text...``: Kubernetes verbose healthz lines; anything else: IETF health+json whose
    component names and outputs hold each header value (so they reach series labels too)."""

    def do_GET(self) -> None:
        seen = [("target", self.path), *self.headers.items()]
        if self.path.startswith("/text"):
            lines = [f"[-]{value} failed: {name} was {value}" for name, value in seen]
            body = ("\n".join(lines) + "\nhealthz check failed\n").encode()
            content_type = "text/plain"
        else:
            checks = {
                f"{name}:{value}": [{"status": "fail", "output": f"{name} was {value}"}]
                for name, value in seen
            }
            body = json.dumps({"status": "fail", "checks": checks}).encode()
            content_type = "application/health+json"
        self.send_response(503)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextlib.contextmanager
def echoing_server() -> Iterator[str]:
    """The server on a free loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
