"""Issue 12 on the running kiosk: device-down alerts after N minutes and when the devices come back,
and systemd's STATUS= lines, with the real runtime, the real simulators and a real notify socket."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from runtime_support import simulators, wait_until, write_config

from kiosk.config import load_config
from kiosk.runtime import KioskRuntime


def test_devices_down_at_start_raise_alerts_then_back_alerts_and_status_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, pcsc=False)
    text = config.read_text(encoding="utf-8")
    assert "urls = []" in text
    text = text.replace("urls = []", 'urls = ["json://127.0.0.1:9/staff-alerts"]\ndevice_down_minutes = 0.02', 1)
    config.write_text(text, encoding="utf-8")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.1)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    lines: list[str] = []

    def drain() -> list[str]:
        try:
            while True:
                lines.append(notify.recv(4096).decode())
        except TimeoutError:
            return lines

    runtime = KioskRuntime(load_config(config), supervise_interval=0.3).start()
    try:
        required = [n for n in runtime.required_devices() if n in runtime.slots]

        def count(kind: str, device: str = "") -> int:
            rows = runtime.store.db.query("SELECT title FROM outbox WHERE kind = ?", (kind,))
            return len([r for r in rows if not device or r["title"].endswith(f": {device}")])

        def kinds(kind: str) -> list[str]:
            rows = runtime.store.db.query("SELECT title FROM outbox WHERE kind = ?", (kind,))
            return sorted({r["title"].rsplit(": ", 1)[-1] for r in rows})

        wait_until(lambda: kinds("device_down") == sorted(required), 30, "a device-down alert per required device")
        time.sleep(2.0)  # several more supervisor rounds with everything still down: no repeated alerts
        assert count("device_down") == len(required)
        assert any(ln.startswith("STATUS=out of service (idle); down: ") and "fingerprint" in ln for ln in drain())
        with simulators(config, tmp_path / "sim.log"):
            wait_until(lambda: kinds("device_back") == sorted(required), 60, "a back alert per device")
            wait_until(lambda: "STATUS=in service (idle); all devices working" in drain(), 10, "status in service")
            # every outage has exactly one alert each way (a device that flickers under load counts twice)
            wait_until(lambda: all(count("device_down", n) == count("device_back", n) for n in required), 20,
                       "each down alert answered by one back alert")
    finally:
        runtime.close()
        notify.close()
