"""A small JSON-lines control channel for running simulators.

``kiosk sim`` (and later the simulator panel) serves it on a Unix socket so a test, a demo script
or the panel in another process can place a card or jam a door: one request line
``{"device": "idcard", "action": "insert", "args": {...}}``, one answer line
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Controllable(Protocol):
    name: str

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def control(self, action: str, **args: Any) -> Any: ...

    def actions(self) -> dict[str, str]: ...


class SimControlServer:
    """Serves control requests for a set of simulators until ``close()``."""

    def __init__(self, path: str, simulators: dict[str, Controllable]) -> None:
        self.path = path
        self.simulators = simulators
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        device = request.get("device")
        action = request.get("action", "")
        args = request.get("args") or {}
        if action == "list":
            hub = {"stop": "stop this simulator (its port vanishes)", "start": "start it again"}
            return {"ok": True, "result": {n: {**s.actions(), **hub} for n, s in self.simulators.items()}}
        sim = self.simulators.get(str(device))
        if sim is None:
            return {"ok": False, "error": f"no simulator {device!r}; running: {sorted(self.simulators)}"}
        try:
            # Stopping a whole simulator (its pty vanishes) is the hub's job, not the device's.
            if action == "stop":
                sim.stop()
                return {"ok": True, "result": {"stopped": device}}
            if action == "start":
                sim.start()
                return {"ok": True, "result": {"started": device}}
            return {"ok": True, "result": sim.control(action, **args)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": str(exc)}

    def start(self) -> SimControlServer:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        answer = owner.handle(json.loads(line))
                    except json.JSONDecodeError as exc:
                        answer = {"ok": False, "error": f"bad request: {exc}"}
                    self.wfile.write(json.dumps(answer, ensure_ascii=False, default=str).encode() + b"\n")

        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._server = socketserver.ThreadingUnixStreamServer(self.path, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def send_control(path: str, device: str, action: str, /, timeout: float = 5.0, **args: Any) -> Any:
    """Ask a running simulator to do something; raises RuntimeError with its message on failure.

    ``path``, ``device`` and ``action`` are positional-only so an action may take arguments of
    those names (the camera's ``show path=<folder>``).
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps({"device": device, "action": action, "args": args}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    answer = json.loads(buf)
    if not answer.get("ok"):
        raise RuntimeError(answer.get("error", "simulator control failed"))
    return answer.get("result")
