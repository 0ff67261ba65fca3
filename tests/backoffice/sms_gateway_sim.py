"""An SMS gateway simulator: a real local HTTP server that takes the back office's JSON hook
(POST {"to", "text", "id"}), records what it received, and can be switched to failing (503) to
play a gateway that is down."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class SmsGatewaySim:
    url: str = ""
    received: list[dict] = field(default_factory=list)
    down: bool = False
    refused: int = 0


@contextmanager
def sms_gateway() -> Iterator[SmsGatewaySim]:
    sim = SmsGatewaySim()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if sim.down:
                sim.refused += 1
                self.send_response(503)
                self.end_headers()
                return
            sim.received.append(json.loads(body.decode("utf-8")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok":true}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sim.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sim
    finally:
        server.shutdown()
        server.server_close()
