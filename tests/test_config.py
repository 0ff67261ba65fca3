"""The configuration file: the shipped ones load, and every bad value is named with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.errors import ConfigError
from kiosk.config import LockerConfig, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "kiosk.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_simulator_config_loads_and_points_ports_at_the_simulators() -> None:
    cfg = load_config(ROOT / "config" / "kiosk.sim.toml")
    assert cfg.simulator.enabled
    idcard = cfg.devices["idcard"]
    assert cfg.port_of(idcard) == str(cfg.simulator.run_dir / "idcard")
    locker = cfg.devices["locker"]
    assert isinstance(locker, LockerConfig) and [b.address for b in locker.boards] == [0, 1]


def test_hardware_mode_uses_the_configured_port(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, '[devices.idcard]\nport = "/dev/ttyUSB3"\n'))
    assert not cfg.simulator.enabled
    assert cfg.port_of(cfg.devices["idcard"]) == "/dev/ttyUSB3"


def test_one_device_can_be_simulated_alone(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[devices.fingerprint]\nsimulated = true\n"))
    assert cfg.devices["fingerprint"].simulated and not cfg.devices["idcard"].simulated


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    text = """
[devices.locker]
baudrate = 12345
pulse_ms = 5
boards = [{ address = 0, protocol = "cu48" }, { address = 0, protocol = "acme" }]
[devices.fingerprint]
baudrate = 4800
password = "secret"
[devices.door_relay]
board = 7
[devices.idcard]
colour = "red"
"""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    msg = str(err.value)
    for expected in (
        "devices.locker.baudrate: 12345 is not a standard baud rate",
        "devices.locker.pulse_ms: 5 out of range",
        "devices.locker.boards[1].protocol: 'acme' unknown",
        "devices.locker.boards: duplicate board address",
        "devices.fingerprint.baudrate: the sensor takes multiples of 9600",
        "devices.fingerprint.password: expected int, got 'secret'",
        "devices.door_relay.board: 7 is not one of the locker boards",
        "devices.idcard.colour: unknown setting",
    ):
        assert expected in msg, expected
    assert err.value.recovery.value == "maintenance"


def test_unreadable_and_malformed_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[devices.idcard\n"))


def test_locker_banks_expand_to_numbered_compartments_and_clashes_are_named(tmp_path: Path) -> None:
    cfg = load_config(ROOT / "config" / "kiosk.sim.toml")
    ids = [c.id for c in cfg.lockers.compartments]
    assert ids[:3] == ["A01", "A02", "A03"] and "C04" in ids and len(ids) == len(set(ids))
    text = """
[devices.locker]
boards = [{ address = 0, protocol = "cu48" }]
[lockers]
banks = [{ prefix = "A", board = 0, first_lock = 0, count = 4, size = "small" },
         { prefix = "B", board = 2, first_lock = 3, count = 2, size = "huge" }]
"""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    msg = str(err.value)
    assert "compartment B01: size 'huge' unknown" in msg
    assert "compartment B01: board 2 is not in devices.locker.boards" in msg
