"""A whole simulated kiosk for the runtime and touch tests: a config in a temp dir and `kiosk sim all`.

The simulators run in their own process exactly as with `make run` (``kiosk sim all --no-pacing``);
tests drive them through the control socket (``devices.sim_control.send_control``), as the panel
does, so the residents' and staff's hands act on the same wire the drivers talk to.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BLINK = ROOT / "assets" / "sim" / "camera" / "blink_card_holder"
PAPER = ROOT / "assets" / "sim" / "camera" / "paper_a4.jpg"
SERVICE = "social_security_card_replacement"  # two papers, the second may follow later
FINGER = "zhang-right-index"


def write_config(tmp: Path, *, pcsc: bool = True) -> Path:
    """The simulator configuration with its state (database, key, ptys, socket) under ``tmp``."""
    text = (ROOT / "config" / "kiosk.sim.toml").read_text(encoding="utf-8")
    text = text.replace('state_dir = "var"', f'state_dir = "{tmp / "state"}"')
    # Scripted journeys leave out the optional phone and rating steps (tests/test_resident_* cover them).
    text = text.replace("phone_step = true", "phone_step = false").replace("rating_step = true", "rating_step = false")
    text = text.replace('run_dir = "var/sim"', f'run_dir = "{tmp / "state" / "sim"}"')
    if not pcsc:  # the vpcd reader slots are one per machine: leave them to tests that need them
        for name in ("staff_reader", "door_reader"):
            text = text.replace(f"[devices.{name}]\n", f"[devices.{name}]\nenabled = false\n")
    path = tmp / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextlib.contextmanager
def simulators(config: Path, log: Path) -> Iterator[str]:
    """Run ``kiosk sim all --no-pacing`` for ``config``; yields the control socket path."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.cli", "--config", str(config), "sim", "all", "--no-pacing"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        end = time.monotonic() + 30
        while "ready" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"kiosk sim all did not start:\n{log.read_text()}")
            time.sleep(0.1)
        control = next(line.split(": ", 1)[1] for line in log.read_text().splitlines() if line.startswith("control:"))
        yield control
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Hands:
    """The resident's and staff's hands on the simulators, through the control socket."""

    def __init__(self, control: str) -> None:
        self.control = control

    def __call__(self, device: str, action: str, **args: Any) -> Any:
        from devices.sim_control import send_control

        return send_control(self.control, device, action, timeout=10.0, **args)

    def enrol_finger(self, finger: str = FINGER, wait: Callable[[float], None] = time.sleep) -> None:
        """Press, lift once the first capture is in, press again (blocking; run it in a thread)."""
        self("fingerprint", "place", finger=finger)
        end = time.monotonic() + 30
        while not self("fingerprint", "state")["buffers"].get("1"):
            if time.monotonic() > end:
                raise AssertionError("the sensor never took the first capture")
            wait(0.05)
        self("fingerprint", "lift")
        wait(0.6)  # the driver polls every 50 ms: it sees the finger gone
        self("fingerprint", "place", finger=finger)


def wait_until(cond: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
