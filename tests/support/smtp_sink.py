"""A loopback SMTP server that keeps every message: the e-mail receiver's far end in tests.

It speaks the part of SMTP (RFC 5321) a client without TLS or AUTH uses: a 220 greeting, EHLO
or HELO, MAIL FROM, RCPT TO, DATA (with dot-unstuffing), RSET, NOOP and QUIT. Debian has no
SMTP sink for tests and Alertmanager's e-mail integration needs a real peer.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class SmtpSink:
    server: socketserver.ThreadingTCPServer
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def address(self) -> str:
        port = self.server.server_address[1]
        return f"127.0.0.1:{port}"

    def received(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink: SmtpSink

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 sink.invalid ESMTP test sink")
            while line := self.rfile.readline():
                verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 sink.invalid")
                elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    self.receive_data()
                    self.reply("250 OK: queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 not implemented")

        def receive_data(self) -> None:
            lines = []
            while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                lines.append(line[1:] if line.startswith(b"..") else line)
            message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
            with sink.lock:
                sink.messages.append(message)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink = SmtpSink(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
