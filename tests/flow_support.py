"""A whole kiosk on simulators for the flow tests: real drivers over ptys, real SQLite, real face/document code.

``Rig`` owns the ID-card, fingerprint and locker simulators, the store, the locker service and the
flows. ``Resident`` plays the person: places the card, lifts and presses the finger, closes doors.
Camera frames are recorded ones fed to the real face check and scanner (see ``flows.frames``).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devices.document.synthetic import a4_photo
from devices.fingerprint import FingerprintSensor, FingerprintSimulator
from devices.idcard import IdCardReader, SimulatorPhotoDecoder
from devices.idcard.simulator import IdCardSimulator
from devices.lockerboard import LockerBus, LockerSimulator
from devices.printer import ReceiptPrinter, ReceiptPrinterSimulator
from flows.deposit import DepositFlow
from flows.fingerprints import FingerprintDirectory
from flows.frames import RecordedFrames
from flows.guide import load_guide
from flows.kiosk_session import SessionHolder
from flows.machine import FlowMachine
from flows.receipt import ReceiptIssuer
from flows.staff_pickup import StaffPickupFlow
from flows.view import UserEvent
from kiosk.config import CompartmentSpec
from locker.outbox import Outbox
from locker.service import LockerService
from locker.staff import StaffAccounts
from locker.store import Store

ROOT = Path(__file__).resolve().parent.parent
BOARDS = {0: "cu48"}
SPECS = (
    CompartmentSpec("S01", "small", 0, 0),
    CompartmentSpec("S02", "small", 0, 1),
    CompartmentSpec("M01", "medium", 0, 2),
    CompartmentSpec("L01", "large", 0, 3),
)
ALERT_URL = "json://127.0.0.1:9/kiosk-alerts"
# two papers, the second 容缺: one scan per happy path keeps the tests short
SERVICE = "social_security_card_replacement"
STAFF_BADGE = "04A1B2C3"  # the staff member every staff test logs in as
STAFF_PIN = "246810"


@functools.cache
def blink_frames() -> tuple[np.ndarray, ...]:
    files = sorted(glob.glob(str(ROOT / "tests/data/face_sequences/blink_obama/*.jpg")))
    return tuple(cv2.imread(f) for f in files)


@functools.cache
def page_frame() -> np.ndarray:
    return a4_photo().frame


@functools.cache
def blurred_page_frame() -> np.ndarray:
    return a4_photo(blur_sigma=4.0).frame


def wait_until(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def wait_step(flow: FlowMachine, step: str, timeout: float = 15.0) -> None:
    """Wait until the flow shows ``step`` and no worker of it is busy (buttons accepted)."""
    wait_until(
        lambda: flow.view.step == step and not flow.view.busy,
        timeout,
        f"step {step!r} (now {flow.view.step!r}: {flow.view.message!r})",
    )


def press(flow: FlowMachine, action: str, **data: Any) -> None:
    assert flow.handle(UserEvent(action, data)), f"{action!r} not accepted in {flow.view.step}: {flow.view.actions}"


def confirm_identity(flow: FlowMachine, timeout: float = 10.0) -> None:
    """The resident reads the masked name and number under the card photo and confirms: "是本人，继续"."""
    wait_until(lambda: flow.state == "identity", timeout, "identity confirmation")
    press(flow, "confirm")


@dataclass
class Rig:
    tmp: Path
    idsim: IdCardSimulator
    fpsim: FingerprintSimulator
    lsim: LockerSimulator
    psim: ReceiptPrinterSimulator
    reader: IdCardReader
    sensor: FingerprintSensor
    bus: LockerBus
    store: Store
    outbox: Outbox
    lockers: LockerService
    fingerprints: FingerprintDirectory
    sessions: SessionHolder
    face_frames: RecordedFrames
    doc_frames: RecordedFrames
    flows: list[FlowMachine] = field(default_factory=list)

    def deposit(self, **kw: Any) -> DepositFlow:
        args: dict[str, Any] = dict(
            reader=self.reader,
            face_frames=self.face_frames,
            fingerprint=self.sensor,
            document_frames=self.doc_frames,
            lockers=self.lockers,
            submissions=self.store.submissions,
            guide=load_guide(),
            fingerprints=self.fingerprints,
            receipts=ReceiptIssuer(ReceiptPrinter("simulator", self.psim.port, simulator=self.psim)),
            alerts=self.outbox,
            sessions=self.sessions,
            kiosk_name="测试镇便民服务中心",
            finger_timeout=5.0,
            door_settle_timeout=10.0,
        )
        args.update(kw)
        flow = DepositFlow(**args)
        self.flows.append(flow)
        return flow

    def staff(self, **kw: Any) -> StaffPickupFlow:
        """A staff flow on the rig's lockers and store, with one staff account (STAFF_BADGE, STAFF_PIN)."""
        accounts = StaffAccounts(self.store.db, self.store.audit, scrypt_n=2**10)
        accounts.add_staff(STAFF_BADGE, "王工作人员", STAFF_PIN)
        flow = StaffPickupFlow(staff=accounts, lockers=self.lockers, submissions=self.store.submissions, **kw)
        self.flows.append(flow)
        return flow

    def door_of(self, compartment_id: str) -> tuple[int, int]:
        spec = next(s for s in SPECS if s.id == compartment_id)
        return spec.board, spec.lock

    def open_doors(self) -> list[list[int]]:
        return list(self.lsim.ctl_state()["open_doors"])

    def pulses(self) -> dict[str, int]:
        return dict(self.lsim.ctl_state()["open_commands"])

    def alerts(self, kind: str) -> list[Any]:
        return [i for i in self.outbox.items() if i.kind == kind]


class Resident:
    """The person at the kiosk, acting on the simulators from a thread of their own."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def place_card(self, name: str = "zhang_san") -> None:
        self.rig.idsim.ctl_insert(name)

    def enrol_finger(self, first: str = "zhang-right-index", second: str | None = None) -> threading.Thread:
        """Press, lift when the first capture is in, press again (the same finger unless told)."""
        sim = self.rig.fpsim

        def act() -> None:
            sim.ctl_place(finger=first)
            wait_until(lambda: sim.buffers[1] is not None, what="first capture")
            polls = sim.empty_polls
            sim.ctl_lift()
            wait_until(lambda: sim.empty_polls > polls, what="lift seen")
            sim.ctl_place(finger=second or first)

        t = threading.Thread(target=act, daemon=True)
        t.start()
        return t

    def press_finger(self, finger: str = "zhang-right-index") -> None:
        self.rig.fpsim.ctl_place(finger=finger)

    def close_door(self, compartment_id: str) -> None:
        """Shut the door — once the kiosk has seen it open, as a person's hand is never faster than that.

        Closing within the kiosk's confirming read (tens of milliseconds on a loaded machine) would make
        a door that did open look jammed: a timing no resident can produce.
        """
        from locker.transactions import TxState

        def seen_open() -> bool:
            active = [t for t in self.rig.lockers.unfinished() if t.compartment_id == compartment_id]
            return not active or any(t.state is TxState.DOOR_OPENED for t in active)

        wait_until(seen_open, what=f"kiosk saw door {compartment_id} open")
        self.rig.lsim.ctl_close(*self.rig.door_of(compartment_id))


@contextlib.contextmanager
def make_rig(tmp: Path) -> Iterator[Rig]:
    with contextlib.ExitStack() as stack:
        idsim = stack.enter_context(IdCardSimulator(pacing=False))
        fpsim = stack.enter_context(FingerprintSimulator(pacing=False))
        lsim = stack.enter_context(LockerSimulator(pacing=False, boards=BOARDS))
        psim = ReceiptPrinterSimulator(tmp / "printer.bin").start()
        reader = IdCardReader(idsim.port, wlt_decoder=SimulatorPhotoDecoder(), timeout=1.0)
        reader.open()
        stack.callback(reader.close)
        sensor = FingerprintSensor(fpsim.port, timeout=1.0, finger_timeout=5.0, poll_interval=0.01)
        sensor.open()
        stack.callback(sensor.close)
        bus = LockerBus(lsim.port, boards=BOARDS, pulse_ms=0, gap_ms=2, timeout=0.3)
        bus.open()
        stack.callback(bus.close)
        store = Store.open(tmp / "data", tmp / "keys" / "kiosk.key", create_key=True)
        stack.callback(store.close)
        outbox = Outbox(store.db, [ALERT_URL])
        lockers = LockerService(
            store.db,
            bus,
            store.audit,
            outbox,
            SPECS,
            door_open_confirm_s=0.5,
            poll_interval=0.02,
            left_open_reminder_s=30,
            left_open_alert_s=60,
        )
        lockers.start()
        stack.callback(lockers.stop)
        fingerprints = FingerprintDirectory(
            tmp / "data" / "finger_pages.sqlite3", lambda n: store.cipher.mac("fingerprint_page", n), pages=50
        )
        stack.callback(fingerprints.close)
        rig = Rig(
            tmp=tmp,
            idsim=idsim,
            fpsim=fpsim,
            lsim=lsim,
            psim=psim,
            reader=reader,
            sensor=sensor,
            bus=bus,
            store=store,
            outbox=outbox,
            lockers=lockers,
            fingerprints=fingerprints,
            sessions=SessionHolder(),
            face_frames=RecordedFrames(blink_frames(), 0.1),
            doc_frames=RecordedFrames([page_frame()]),
        )

        def stop_flows() -> None:
            for f in rig.flows:
                f.end("test_over")
                wait_until(lambda f=f: f.busy_workers() == 0, 10, "flow workers to stop")

        stack.callback(stop_flows)
        yield rig


def staff_log_in(flow: StaffPickupFlow) -> None:
    """Badge on the reader, PIN on the pad: the pickups list is on screen."""
    flow.badge_tapped(STAFF_BADGE)
    press(flow, "pin", pin=STAFF_PIN)
    wait_step(flow, "pickups")


def deposit_to_fingerprint(rig: Rig, flow: DepositFlow) -> Resident:
    """A deposit from "start" to the fingerprint step: card in, "is this you?" confirmed, face accepted."""
    person = Resident(rig)
    press(flow, "start")
    person.place_card()
    confirm_identity(flow)
    wait_until(lambda: flow.state == "fingerprint", 30, "face accepted")
    return person


def deposit_to_guide(rig: Rig, flow: DepositFlow) -> Resident:
    """A deposit from "start" to the service guide: as ``deposit_to_fingerprint``, then two finger presses."""
    person = deposit_to_fingerprint(rig, flow)
    person.enrol_finger()
    wait_step(flow, "guide")
    return person


def place_result(rig: Rig, staff: StaffPickupFlow, case_code: str) -> None:
    """Staff put a case's result into the medium compartment M01 and shut its door; back at the list."""
    press(staff, "result", case_code=case_code, size="medium")
    wait_until(lambda: rig.open_doors() == [[0, 2]], 5, "result door open")
    Resident(rig).close_door("M01")
    wait_step(staff, "pickups")


def deposit_to_receipt(rig: Rig, flow: DepositFlow) -> str:
    """A resident's whole deposit, from "start" to the receipt screen; returns the compartment used.

    Card, "is this you?", face, two finger presses, the service's first paper captured and its 容缺
    photo skipped, a small compartment, the door shut once the kiosk saw it open.
    """
    person = deposit_to_guide(rig, flow)
    choose_service_and_scan(flow)
    press(flow, "small")
    wait_step(flow, "door")
    compartment = str(flow.view.params["compartment"])
    person.close_door(compartment)
    wait_step(flow, "receipt")
    return compartment


def choose_service_and_scan(flow: DepositFlow, then: str = "size") -> None:
    """From the guide to the step after the papers (the size choice, or ``then``: the phone step where
    it is asked): the service chosen, its first paper captured, the 容缺 photo skipped."""
    press(flow, "choose", service_id=SERVICE)
    wait_step(flow, "documents")
    press(flow, "capture")
    wait_step(flow, "documents")
    press(flow, "next")
    wait_step(flow, "documents")
    press(flow, "skip")
    wait_step(flow, then)
