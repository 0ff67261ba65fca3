"""Subprocess helpers for the locker crash tests (not a test module itself).

``sim LINK CONTROL``: host a LockerSimulator (boards 0 and 1, no pacing) behind the pty ``LINK``
with a control socket, until stdin closes — so door states outlive the kiosk process.

``open DB LINK COMPARTMENT CASE KILL_AT``: run the kiosk's open sequence and SIGKILL itself at
the step named ``KILL_AT`` (``intent_committed``, ``pulse_unrecorded``, ``door_opened_recorded``);
``none`` runs to the end and prints the transaction state.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.lockerboard import LockerBus, LockerSimulator  # noqa: E402
from devices.sim_control import SimControlServer  # noqa: E402
from kiosk.config import CompartmentSpec  # noqa: E402
from locker.audit import AuditLog  # noqa: E402
from locker.db import Database  # noqa: E402
from locker.outbox import Outbox  # noqa: E402
from locker.service import LockerService  # noqa: E402

BOARDS = {0: "cu48", 1: "cu48"}
SPECS = (
    CompartmentSpec("A01", "small", 0, 0),
    CompartmentSpec("A02", "small", 0, 1),
    CompartmentSpec("B01", "medium", 1, 0),
    CompartmentSpec("B02", "large", 1, 1),
)
ALERT_URL = "json://127.0.0.1:9/locker-alerts"  # queued only; nothing is delivered in tests


def make_service(db_path: str, link: str) -> tuple[LockerService, LockerBus, Database]:
    db = Database(db_path)
    bus = LockerBus(link, boards=BOARDS, pulse_ms=0, gap_ms=5, timeout=0.2)
    bus.open()
    svc = LockerService(
        db,
        bus,
        AuditLog(db),
        Outbox(db, [ALERT_URL]),
        SPECS,
        door_open_confirm_s=1.0,
        poll_interval=0.05,
        left_open_reminder_s=60,
        left_open_alert_s=120,
    )
    return svc, bus, db


def host_sim(link: str, control: str) -> None:
    sim = LockerSimulator(pacing=False, link=link, boards=BOARDS)
    sim.start()
    server = SimControlServer(control, {"lockers": sim}).start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    server.close()
    sim.stop()


def run_open(db_path: str, link: str, compartment: str, case: str, kill_at: str) -> None:
    svc, bus, db = make_service(db_path, link)

    def hook(step: str) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(10)  # never reached

    svc.crash_hook = hook
    svc.start()
    svc.reserve(svc.compartment(compartment).size, case_code=case)
    tx = svc.open(compartment, case_code=case, purpose="deposit", actor="resident")
    print(tx.state.value, flush=True)
    svc.stop()
    bus.close()
    db.close()


if __name__ == "__main__":
    if sys.argv[1] == "sim":
        host_sim(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "open":
        run_open(*sys.argv[2:7])
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}")
