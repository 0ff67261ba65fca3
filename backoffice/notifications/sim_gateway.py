"""The SMS gateway simulator: a real local HTTP server that takes the back office's JSON hook
(``POST {"to", "text", "id"}``, see ``gateway.HttpJsonGateway``), answers 200 like a provider, and
can be switched to failing (503) to play a gateway that is down.

It is what ``make run`` points ``BACKOFFICE_SMS_GATEWAY`` at (``python -m backoffice
sms_gateway_sim --port P --log FILE``) and what the tests send through, so the tester and the tests
see the very requests ``sms_send`` makes on a real server.

The "phone" log: each message taken is appended as one line — time, the number masked as
everywhere else (``crypto.mask_phone``: 139****5678) and the *whole* text, pickup code included.
Writing a pickup code to a file is acceptable here and nowhere else because this is simulator mode
only: the log plays the resident's phone (the one place the code is meant to arrive), the numbers are
test numbers on a tester's machine, and a tester needs the code to try result pickup at the kiosk.
The production gateway is a provider's; nothing in the product writes texts to a log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from backoffice.crypto import mask_phone

PATH = "/sms"
log = logging.getLogger("backoffice.notifications.sim")


@dataclass
class SmsGatewaySim:
    """What the simulated gateway has seen; ``down = True`` makes it answer 503 (nothing is taken)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    refused: int = 0
    phone_log: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def phone_line(message: dict[str, Any], when: dt.datetime | None = None) -> str:
    """``2026-12-06 13:05:09  139****5678  text``: one line a message (line breaks in a text become
    " / " so a tester's ``tail -f`` shows one message a line)."""
    when = when or dt.datetime.now().astimezone()
    to = str(message.get("to", ""))
    text = " / ".join(str(message.get("text", "")).splitlines())
    return f"{when:%Y-%m-%d %H:%M:%S}  {mask_phone(to) or '(not an 11-digit number)'}  {text}"


def _problem(message: Any) -> str:
    """Why a request body is not a message the gateway would take ("" when it is one)."""
    if not isinstance(message, dict):
        return "the body is not a JSON object"
    missing = [k for k in ("to", "text", "id") if not isinstance(message.get(k), str) or not message.get(k)]
    return f"missing or empty: {', '.join(missing)}" if missing else ""


def make_server(sim: SmsGatewaySim, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """The HTTP server for ``sim`` (not started); ``sim.url`` is set to where it listens."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            if self.path != PATH:
                log.warning("SMS gateway simulator: a POST to %s, not %s (HTTP 404)", self.path, PATH)
                self._answer(404, {"error": f"post messages to {PATH}"})
                return
            if sim.down:
                log.info("SMS gateway simulator is down: a text refused (HTTP 503)")
                with sim._lock:
                    sim.refused += 1
                self._answer(503, {"error": "the simulated gateway is down"})
                return
            try:
                message = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                message = None
            problem = _problem(message)
            if problem:
                # The sender's bug, not a message: say why, never echo the body (it may hold a number).
                log.warning("SMS gateway simulator refused a request (HTTP 400): %s", problem)
                self._answer(400, {"error": problem})
                return
            with sim._lock:
                sim.received.append(message)
                if sim.phone_log is not None:
                    with sim.phone_log.open("a", encoding="utf-8") as f:
                        f.write(phone_line(message) + "\n")
            self._answer(200, {"ok": True, "id": message["id"]})

        def log_message(self, *args: object) -> None:
            pass  # the request line is harmless, but the phone log is the tester's view

    server = ThreadingHTTPServer((host, port), Handler)
    sim.url = f"http://{host}:{server.server_address[1]}{PATH}"
    return server


@contextmanager
def sms_gateway(phone_log: Path | None = None, port: int = 0) -> Iterator[SmsGatewaySim]:
    """The simulator running in a thread of this process (tests), stopped on leaving the block."""
    sim = SmsGatewaySim(phone_log=phone_log)
    server = make_server(sim, port=port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sim
    finally:
        server.shutdown()
        server.server_close()
