"""Kiosk process for the crash sweep: run one deposit or staff pickup, or restart and recover.

    python tests/flow_crash_runner.py CONFIG deposit|pickup|recover FRAMES_DIR

The simulators run in another process (``kiosk sim all --no-pacing``) so their state — doors,
stored fingerprints, pulses counted per lock — survives this process being killed. With
``KIOSK_FLOW_CRASH_AT=<boundary>`` the process SIGKILLs itself at that step boundary
(``flows.crashpoints``; the locker service's own boundaries are named ``locker.<step>``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices.lockerboard import LockerBus  # noqa: E402
from devices.sim_control import send_control  # noqa: E402
from flows import crashpoints  # noqa: E402
from flows.recovery import recover_flows  # noqa: E402
from kiosk.config import load_config  # noqa: E402
from locker.outbox import Outbox  # noqa: E402
from locker.service import LockerService  # noqa: E402
from locker.store import Store  # noqa: E402

ALERT_URL = "json://127.0.0.1:9/kiosk-alerts"


def wait(cond, timeout: float = 15.0, what: str = "") -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"runner: timed out waiting for {what}")
        time.sleep(0.01)


def main() -> int:
    cfg_path, scenario, frames_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    cfg = load_config(cfg_path)
    control = str(cfg.simulator.control_socket)

    def ctl(device: str, action: str, **args: object) -> object:
        return send_control(control, device, action, **args)

    store = Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=cfg.store.create_key)
    outbox = Outbox(store.db, [ALERT_URL])
    ldev = cfg.devices["locker"]
    bus = LockerBus(
        cfg.port_of(ldev),  # type: ignore[arg-type]
        ldev.baudrate,  # type: ignore[attr-defined]
        boards={b.address: b.protocol for b in ldev.boards},  # type: ignore[attr-defined]
        pulse_ms=ldev.pulse_ms,  # type: ignore[attr-defined]
        gap_ms=ldev.gap_ms,  # type: ignore[attr-defined]
        timeout=0.3,
    )
    bus.open()
    lockers = LockerService.from_config(store.db, bus, store.audit, outbox, cfg.lockers, poll_interval=0.02)
    hook = lambda step: crashpoints.reached(f"locker.{step}")  # noqa: E731
    lockers.start()
    report = recover_flows(lockers, store.submissions, outbox)
    print(f"recovered committed={report.committed} cancelled={report.cancelled} collected={report.collected}")
    if scenario == "recover":
        # the person at the kiosk shuts any door still open; the service settles it from the sensor
        for board, lock in ctl("locker", "state")["open_doors"]:  # type: ignore[index]
            ctl("locker", "close", board=board, lock=lock)
        wait(
            lambda: not lockers.unfinished() or all(t.state.value == "ambiguous" for t in lockers.unfinished()),
            5,
            "doors settled",
        )
        print("RECOVERED", flush=True)
    elif scenario == "deposit":
        lockers.crash_hook = hook
        deposit(cfg, store, outbox, lockers, ctl, frames_dir)
    elif scenario == "pickup":
        pickup(store, lockers, ctl, hook)
    lockers.stop()
    bus.close()
    store.close()
    return 0


def deposit(cfg, store, outbox, lockers, ctl, frames_dir: Path) -> None:  # noqa: ANN001
    import cv2

    from devices.fingerprint import FingerprintSensor
    from devices.idcard import IdCardReader, SimulatorPhotoDecoder
    from flows.deposit import DepositFlow
    from flows.fingerprints import FingerprintDirectory
    from flows.frames import RecordedFrames
    from flows.guide import load_guide
    from flows.receipt import ReceiptIssuer
    from flows.view import UserEvent

    idc, fpc = cfg.devices["idcard"], cfg.devices["fingerprint"]
    reader = IdCardReader(cfg.port_of(idc), idc.baudrate, wlt_decoder=SimulatorPhotoDecoder())
    reader.open()
    sensor = FingerprintSensor(cfg.port_of(fpc), fpc.baudrate, finger_timeout=10, poll_interval=0.01)
    sensor.open()
    faces = [cv2.imread(str(p)) for p in sorted((frames_dir / "face").glob("*.jpg"))]
    page = cv2.imread(str(frames_dir / "page.png"))
    flow = DepositFlow(
        reader=reader,
        face_frames=RecordedFrames(faces, 0.1),
        fingerprint=sensor,
        document_frames=RecordedFrames([page]),
        lockers=lockers,
        submissions=store.submissions,
        guide=load_guide(),
        fingerprints=FingerprintDirectory(
            Path(cfg.store.data_dir) / "finger_pages.sqlite3", lambda n: store.cipher.mac("fingerprint_page", n)
        ),
        receipts=ReceiptIssuer(None),
        alerts=outbox,
        finger_timeout=10,
    )

    def step(name: str) -> None:
        wait(lambda: flow.view.step == name and not flow.view.busy, 20, name)

    def press(action: str, **data: object) -> None:
        assert flow.handle(UserEvent(action, data)), (action, flow.view)

    ctl("idcard", "remove")
    ctl("fingerprint", "clear")  # no template or capture left over from an earlier run
    time.sleep(0.4)
    press("start")
    ctl("idcard", "insert", card="zhang_san")
    wait(lambda: flow.state == "identity", 20, "card read")
    press("confirm")
    wait(lambda: flow.state == "fingerprint", 20, "face accepted")
    ctl("fingerprint", "place", finger="zhang-right-index")
    if flow.view.params.get("mode") == "enroll":
        wait(lambda: ctl("fingerprint", "state")["buffers"]["1"], 10, "first capture")
        ctl("fingerprint", "lift")
        time.sleep(0.2)
        ctl("fingerprint", "place", finger="zhang-right-index")
    step("guide")
    press("choose", service_id="social_security_card_replacement")
    step("documents")
    press("capture")
    step("documents")
    press("next")
    step("documents")
    press("skip")
    step("size")
    press("small")
    step("door")
    compartment = flow.view.params["compartment"]
    spec = next(s for s in cfg.lockers.compartments if s.id == compartment)
    ctl("locker", "close", board=spec.board, lock=spec.lock)
    step("receipt")
    press("done")
    ctl("fingerprint", "lift")
    print("DONE", flush=True)


def committed_case(store, lockers, ctl) -> None:  # noqa: ANN001
    """A deposit made straight through the store and the locker service (no resident flow)."""
    from locker.submissions import Identity

    ticket = store.submissions.open_draft(
        service_id="employment_registration",
        required_papers=["id_card", "labour_contract"],
        identity=Identity("张三", "110105199003071239"),
    )
    store.submissions.add_scan(ticket.case_code, "id_card", 0, b"%PDF-1.4 test")
    store.submissions.defer_paper(ticket.case_code, "labour_contract")
    c = lockers.reserve("small", case_code=ticket.case_code)
    tx = lockers.open(c.id, case_code=ticket.case_code, purpose="deposit", actor="resident")
    ctl("locker", "close", board=c.board, lock=c.lock)
    assert lockers.wait_closed(tx, timeout=5)
    store.submissions.commit_submission(ticket.case_code, compartment_id=c.id)


def pickup(store, lockers, ctl, hook) -> None:  # noqa: ANN001
    from flows.staff_pickup import StaffPickupFlow
    from flows.view import UserEvent
    from locker.staff import StaffAccounts

    committed_case(store, lockers, ctl)
    print("SETUP", flush=True)
    lockers.crash_hook = hook

    accounts = StaffAccounts(store.db, store.audit, scrypt_n=2**10)
    if not accounts.list_staff():
        accounts.add_staff("04A1B2C3", "值班员", "246810")
    flow = StaffPickupFlow(staff=accounts, lockers=lockers, submissions=store.submissions)
    pending = store.submissions.pending_pickups()
    assert pending, "the pickup scenario needs a committed case"
    case = pending[0]
    flow.badge_tapped("04A1B2C3")
    flow.handle(UserEvent("pin", {"pin": "246810"}))
    flow.handle(UserEvent("open", {"case_code": case.case_code}))
    wait(lambda: flow.state == "pickups" and not flow.view.busy, 10, "opened")
    c = lockers.compartment(case.compartment_id)
    ctl("locker", "close", board=c.board, lock=c.lock)
    wait(lambda: not lockers.unfinished(), 5, "door closed")
    flow.handle(UserEvent("collected", {"case_code": case.case_code}))
    print("DONE", flush=True)


if __name__ == "__main__":
    sys.exit(main())
