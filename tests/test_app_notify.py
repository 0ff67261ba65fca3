"""The real touchscreen app tells systemd it is ready and keeps pinging the watchdog from its UI loop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_app_sends_ready_then_watchdog_pings(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(90)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIVY_NO_ARGS": "1", "KIVY_NO_FILELOG": "1",
           "KIVY_NO_CONSOLELOG": "1", "SDL_VIDEODRIVER": os.environ.get("SDL_VIDEODRIVER", "offscreen"),
           "KIVY_HOME": str(tmp_path / "kivy"), "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"}
    env.pop("WATCHDOG_PID", None)
    command = [sys.executable, "-m", "kiosk.cli", "app", "--demo", "--windowed", "--orientation", "landscape"]
    app = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        messages = []
        while len([m for m in messages if m == b"WATCHDOG=1"]) < 3:
            messages.append(sock.recv(4096))
        assert messages[0].startswith(b"READY=1\nSTATUS=showing ")
        assert app.poll() is None  # still running
    finally:
        app.terminate()
        app.wait(timeout=30)
        sock.close()
