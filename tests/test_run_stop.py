"""`make run` stops cleanly: Ctrl-C stops everything it started, the app before what the app uses.

The real scripts/run.sh runs headless (KIOSK_RUN_HEADLESS=1, SDL offscreen) in its own process
group, from a copy of the scripts and the simulator configuration so its var/ is a temporary folder.
Ctrl-C in a terminal is SIGINT to the whole foreground process group; the test sends exactly that.
The app tells a notify socket (the systemd protocol, as under kiosk.service) when its first screen
shows (READY=1) and when it closes its devices and database on the way out (STOPPING=1).
Every process of the run carries a marker in its environment, so a process that left the group
(pcscd runs in its own session) or was orphaned is still found by scanning /proc.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARK = "KIOSK_RUN_TEST_MARK"

pytestmark = pytest.mark.ui


def marked_processes(token: str) -> dict[int, str]:
    """pid → command line of every live process whose environment holds MARK=token."""
    needle = f"{MARK}={token}".encode()
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
            if needle not in env.split(b"\0"):
                continue
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":  # exited, waiting for its parent to collect it: not running any more
                continue
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found[int(entry)] = cmd.strip()
    return found


class NotifySocket:
    """The receiving end of $NOTIFY_SOCKET: collects the app's sd_notify datagrams."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def seen(self, *fields: str) -> bool:
        """Some one datagram carried every field (pcscd, started by run.sh, sends its own READY=1)."""
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode(errors="replace"))
            except BlockingIOError:
                break
        return any(all(f in m.splitlines() for f in fields) for m in self.messages)


def wait_for(what: str, check, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def run_tree(tmp_path: Path) -> Path:
    """scripts/run.sh and the simulator configuration, copied; the project's virtualenv, linked."""
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")  # run.sh and whatever it sources
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config" / "kiosk.sim.toml", tmp_path / "config" / "kiosk.sim.toml")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
@pytest.mark.parametrize("display", ["offscreen", "xvfb"])
def test_ctrl_c_stops_app_panel_simulators_and_pcscd_in_order(run_tree: Path, display: str) -> None:
    """offscreen: SDL draws into memory; xvfb: no display, so run.sh starts Xvfb (what `make run` does here)."""
    token = uuid.uuid4().hex
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "KIVY_NO_CONSOLELOG", "SDL_VIDEODRIVER", "KIOSK_RUN_HEADLESS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    notify = NotifySocket(run_tree / "notify.sock")
    env.update({"NOTIFY_SOCKET": str(notify.path), MARK: token,
                "KIOSK_CONFIG": str(run_tree / "config" / "kiosk.sim.toml")})
    if display == "offscreen":
        env.update({"KIOSK_RUN_HEADLESS": "1", "SDL_VIDEODRIVER": "offscreen"})
    out_path = run_tree / "run-output.log"
    with out_path.open("w") as out:
        proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=run_tree, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for("the kiosk app to show its first screen", lambda: notify.seen("READY=1", "STATUS=showing idle"), 240)
        # the app's face and document workers are up too (multiprocessing children of the app)
        wait_for("the app's worker processes",
                 lambda: sum("spawn_main" in c for c in marked_processes(token).values()) >= 2, 120)
        running = marked_processes(token)
        commands = " | ".join(running.values())
        for part in ("kiosk sim all", "kiosk panel", "kiosk app", "backoffice sms_gateway_sim", "backoffice sms_send"):
            assert part in commands, commands
        before = out_path.read_text(errors="replace")

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal of `make run`
        assert proc.wait(timeout=180) == 130  # a generous bound: each process has 20 s before a kill
        assert notify.seen("STOPPING=1")  # the app closed itself (devices, database), it was not killed

        wait_for("every process of the run to end", lambda: not marked_processes(token), 15)
        output = out_path.read_text(errors="replace")
        after = output[len(before):]
        # the text path too: the outbox sender before the simulated gateway it sends to
        names = ["kiosk app", "panel", "simulators", "SMS send", "SMS gateway simulator"] + (
            ["Xvfb"] if display == "xvfb" else [])
        order = [after.find(f"run: stopped {name} (") for name in names]
        assert -1 not in order and order == sorted(order), after  # the display goes last
        assert "did not stop within" not in after, after  # each stopped on SIGTERM, none needed a kill
        # the app went first: it never lost its simulators or readers while it was still running
        assert "cannot open" not in after and "is gone" not in after, after
        assert "Traceback" not in output, output
    finally:
        leftover = marked_processes(token)
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
