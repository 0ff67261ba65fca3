"""`kiosk sim` as a separate process, driven from this one; `kiosk devices check` against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.fingerprint import FingerprintSensor
from devices.idcard import IdCardReader, SimulatorPhotoDecoder
from devices.lockerboard import DoorState, LockerBus
from devices.sim_control import send_control
from tests.pcsc_support import PCSCD_STACK

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "KIVY_NO_ARGS": "1"}


def start_sim(config: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start `kiosk sim …` and read its port lines up to "ready"."""
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(config), "sim", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    ports: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, ports
        name, _, value = line.partition(": ")
        ports[name] = value.strip()
    raise AssertionError(f"simulator exited: {proc.stderr.read() if proc.stderr else ''}")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "kiosk.sim.toml").read_text()
    text = text.replace('run_dir = "var/sim"', f'run_dir = "{tmp_path / "sim"}"')
    text = text.replace('state_dir = "var"', f'state_dir = "{tmp_path / "state"}"')
    text = text.replace("pacing = true", "pacing = false")
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    return path


def kiosk(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT)


def test_standalone_fingerprint_simulator_serves_a_pty_another_process_uses(config: Path, tmp_path: Path) -> None:
    proc, ports = start_sim(config, "fingerprint", "--no-pacing", "--control", str(tmp_path / "fp.sock"))
    try:
        port = ports["fingerprint"]
        assert Path(port).exists()
        sensor = FingerprintSensor(port, 57600)
        sensor.open()
        control = str(tmp_path / "fp.sock")
        send_control(control, "fingerprint", "store", finger="wang-wu-right-index", page=3)
        send_control(control, "fingerprint", "place", finger="wang-wu-right-index")
        found = sensor.identify(timeout=5)
        assert found is not None and found[0] == 3
        send_control(control, "fingerprint", "place", finger="someone-else")
        assert sensor.identify(timeout=5) is None
        assert sensor.template_count() == 1
        sensor.close()
    finally:
        stop(proc)


def test_standalone_idcard_simulator_with_a_link_path(config: Path, tmp_path: Path) -> None:
    link = tmp_path / "dev-kiosk-idcard"
    proc, _ = start_sim(config, "idcard", "--no-pacing", "--link", str(link), "--control", str(tmp_path / "id.sock"))
    try:
        send_control(str(tmp_path / "id.sock"), "idcard", "insert", card="zhang_san")
        reader = IdCardReader(str(link), wlt_decoder=SimulatorPhotoDecoder())
        reader.open()
        read = reader.read_card()
        assert read.record.name == "张三" and read.photo is not None and read.photo.shape == (126, 102, 3)
        assert "*" in read.record.masked_id_number
        reader.close()
    finally:
        stop(proc)
    assert not link.exists()


def test_standalone_locker_simulator_opens_a_door(config: Path, tmp_path: Path) -> None:
    proc, ports = start_sim(config, "locker", "--no-pacing", "--control", str(tmp_path / "lk.sock"))
    try:
        bus = LockerBus(ports["locker"], 9600, boards={0: "cu48", 1: "cu48"}, gap_ms=0)
        bus.open()
        bus.open_lock(0, 5)
        assert bus.door_states(0)[5] == DoorState.OPEN
        state = send_control(str(tmp_path / "lk.sock"), "locker", "state")
        assert state["open_commands"] == {"0:5": 1}
        bus.close()
    finally:
        stop(proc)


@pytest.fixture
def all_sims(config: Path) -> Iterator[Path]:
    PCSCD_STACK.ensure()
    proc, _ = start_sim(config, "all")
    try:
        yield config
    finally:
        stop(proc)


def test_devices_check_all_online_then_names_the_stopped_one(all_sims: Path) -> None:
    ok = kiosk(all_sims, "devices", "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all devices online" in ok.stdout
    assert kiosk(all_sims, "simctl", "fingerprint", "stop").returncode == 0
    bad = kiosk(all_sims, "devices", "check")
    assert bad.returncode == 1
    assert "not working: fingerprint" in bad.stdout
    line = next(ln for ln in bad.stdout.splitlines() if " fingerprint " in ln)
    assert "FAIL" in line and "is `kiosk sim all` running?" in line
    assert kiosk(all_sims, "simctl", "fingerprint", "start").returncode == 0
    assert kiosk(all_sims, "devices", "check", "fingerprint").returncode == 0


def test_simctl_reports_an_unknown_action_clearly(all_sims: Path) -> None:
    out = kiosk(all_sims, "simctl", "locker", "explode")
    assert out.returncode == 1 and "has no action 'explode'" in out.stderr
