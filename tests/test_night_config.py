"""Dangerous configuration values: named by `kiosk config check`, refused at start.

Fault injected from outside: an installer's edits to the shipped example configuration — a
compartment on the lock that drives the entrance door, a device without its port, zero and
negative durations — and staff-flow time-outs in ``[flows.timeouts]``. Checked: the command names
each key and exits 1; the kiosk refuses to start with them; the staff time-outs are honoured by
the running staff flow.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from runtime_support import ROOT, write_config

from devices.errors import ConfigError
from kiosk.config import load_config


def example(tmp_path: Path, edit: Any = None) -> Path:
    """The shipped example with its state under ``tmp_path``, edited as an installer would."""
    text = (ROOT / "config" / "kiosk.example.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^state_dir = .*$', f'state_dir = "{tmp_path / "state"}"', text, count=1)
    if edit is not None:
        text = edit(text)
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    tomllib.loads(text)  # still valid TOML: only the values are wrong
    return path


def config_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--config", str(path), "config", "check"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_the_shipped_example_is_valid(tmp_path: Path) -> None:
    out = config_check(example(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr


def test_dangerous_values_are_each_named_and_refused(tmp_path: Path) -> None:
    def edit(text: str) -> str:
        text = text.replace("door_open_confirm_s = 3.0", "door_open_confirm_s = -1", 1)
        text = text.replace("reservation_ttl_s = 300", "reservation_ttl_s = 0", 1)
        relay = tomllib.loads(text)["devices"]["door_relay"]  # a compartment on the entrance door's lock
        extra = f'compartments = [{{ id = "Z99", size = "small", board = {relay["board"]}, lock = {relay["lock"]} }}]'
        return text.replace("# compartments = [", extra + "\n# compartments = [", 1)

    path = example(tmp_path, edit)
    out = config_check(path)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert re.search(r"compartment Z99 is on board \d+ lock \d+, which drives the entrance door", text), text
    assert "lockers.door_open_confirm_s: -1.0 s out of range" in text
    assert "lockers.reservation_ttl_s: 0.0 s out of range" in text
    with pytest.raises(ConfigError, match="entrance door"):  # the app and every command refuse to start
        load_config(path)


def test_a_port_left_out_is_named_not_silently_defaulted(tmp_path: Path) -> None:
    path = example(tmp_path, lambda text: text.replace('port = "/dev/kiosk-idcard"', "", 1))
    out = config_check(path)
    assert out.returncode == 0  # the udev link is the installed name: not an error, but said
    assert "note: devices.idcard.port: not set, using /dev/kiosk-idcard" in out.stdout
    assert "devices.fingerprint.port" not in out.stdout  # the ones given are not mentioned


def test_staff_time_outs_in_flows_timeouts_are_honoured(tmp_path: Path) -> None:
    from kiosk.runtime import KioskRuntime

    config = write_config(tmp_path, pcsc=False)
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "\n[flows.timeouts]\nopening = 240\npin = 20\n", encoding="utf-8")
    runtime = KioskRuntime(load_config(config), supervise_interval=5).start()
    try:
        assert runtime.staff.timeouts["opening"] == 240 and runtime.staff.timeouts["pin"] == 20
        assert runtime.deposit.timeouts["card"] == 60  # the others keep their defaults
    finally:
        runtime.close()
