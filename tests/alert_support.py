"""A staff phone stand-in: a real local HTTP endpoint that apprise's ``json://`` plugin posts alerts to.

The kiosk's outbox, its direct alert when it cannot start, and the back office's duty alerts all go
through apprise; the tests point them here and read what arrived.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlertReceiver:
    """Answers 500 to the first ``fail_first`` posts (the phone service failing), then 200.

    ``posts`` holds every post, ``received`` those answered 200. Serving starts at once; ``close()``
    (or leaving a ``with`` block) stops it.
    """

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.posts: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                receiver.posts.append(body)
                ok = len(receiver.posts) > receiver.fail_first
                if ok:
                    receiver.received.append(body)
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def titles(self) -> list[str]:
        return [r.get("title", "") for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> AlertReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
