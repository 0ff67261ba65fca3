"""Issue 12, operations: a required device down for N minutes raises one staff alert, and one when
it is back; systemd's STATUS= says what the kiosk does and which devices are down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from devices.status import DeviceStatus, StatusTracker
from kiosk.device_alerts import DeviceDownAlerts
from kiosk.sdnotify import Notifier
from locker.db import Database
from locker.outbox import Outbox

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_down_for_five_minutes_alerts_once_and_back_alerts_once_with_status_lines(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(tmp_path / "notify.sock"))  # what systemd listens on ($NOTIFY_SOCKET)
    server.settimeout(2)
    db = Database(tmp_path / "k.sqlite3")
    outbox = Outbox(db, ["json://127.0.0.1:9/alerts"])
    trackers = {name: StatusTracker(name, DeviceStatus.ONLINE) for name in ("idcard", "fingerprint", "printer")}
    clock = Clock()
    activity = ["idle"]
    watch = DeviceDownAlerts(lambda: trackers, lambda: ("idcard", "fingerprint"), outbox, after_s=300,
                             activity=lambda: activity[0], notifier=Notifier(str(tmp_path / "notify.sock")),
                             kiosk_name="测试镇", clock=clock)

    def statuses() -> list[str]:
        out = []
        server.settimeout(0.2)
        try:
            while True:
                out.append(server.recv(4096).decode())
        except TimeoutError:
            return out

    watch.check()
    assert statuses() == ["STATUS=in service (idle); all devices working"]
    trackers["fingerprint"].set(DeviceStatus.OFFLINE, "no answer on /dev/kiosk-fingerprint")
    trackers["printer"].set(DeviceStatus.OFFLINE, "paper out")  # not required: no alert, not "down"
    watch.check()
    assert statuses() == ["STATUS=out of service (idle); down: fingerprint"]
    clock.now += 120
    trackers["fingerprint"].set(DeviceStatus.ONLINE, "back")  # a flicker: nothing for staff
    watch.check()
    trackers["fingerprint"].set(DeviceStatus.OFFLINE, "no answer")
    clock.now += 10
    watch.check()
    clock.now += 299
    watch.check()
    assert not [i for i in outbox.items() if i.kind == "device_down"]
    clock.now += 2
    watch.check()
    watch.check()
    downs = [i for i in outbox.items() if i.kind == "device_down"]
    assert len(downs) == 1
    activity[0] = "deposit in progress"
    trackers["fingerprint"].set(DeviceStatus.ONLINE, "FPM383 online")
    watch.check()
    backs = [i for i in outbox.items() if i.kind == "device_back"]
    assert len(backs) == 1
    bodies = [r["body"] for r in db.query("SELECT body FROM outbox ORDER BY id")]
    assert "fingerprint has been down for 5 min" in bodies[0] and "works again" in bodies[1]
    assert statuses()[-1] == "STATUS=in service (deposit in progress); all devices working"
    server.close()


def test_the_fingerprint_password_comes_from_a_secret_file_and_is_programmed_into_the_sensor(
    tmp_path: Path,
) -> None:
    from devices.fingerprint import FingerprintSensor, FingerprintSimulator
    from devices.fingerprint.errors import FingerprintWrongPassword
    from kiosk.config import load_config

    secret = tmp_path / "keys" / "fingerprint.password"
    secret.parent.mkdir()
    secret.write_text("0x5EC12E7\n")
    secret.chmod(0o644)
    with FingerprintSimulator(pacing=False) as sim:  # a new sensor: factory password 0
        cfg_path = tmp_path / "kiosk.toml"
        cfg_path.write_text(f'[kiosk]\nstate_dir = "{tmp_path}"\n[devices.fingerprint]\nport = "{sim.port}"\n'
                            f'password_file = "keys/fingerprint.password"\n')
        kiosk = [sys.executable, "-m", "kiosk.cli", "--config", str(cfg_path)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("CREDENTIALS_DIRECTORY", None)
        loose = subprocess.run([*kiosk, "config", "check"], capture_output=True, text=True, cwd=ROOT, env=env)
        assert loose.returncode == 2 and "chmod 600" in loose.stderr, loose.stderr
        secret.chmod(0o600)
        assert load_config(cfg_path).devices["fingerprint"].password == 0x5EC12E7
        out = subprocess.run([*kiosk, "devices", "fingerprint-password"], capture_output=True, text=True,
                             cwd=ROOT, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert sim.ctl_state()["password_set"]
        factory = FingerprintSensor(sim.port, password=0, timeout=1.0)
        try:
            factory.open()
            raise AssertionError("the sensor still answers to the factory password")
        except FingerprintWrongPassword:
            pass
        finally:
            factory.close()
        right = FingerprintSensor(sim.port, password=0x5EC12E7, timeout=1.0)
        right.open()
        right.close()
