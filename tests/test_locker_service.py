"""LockerService against a LockerSimulator over a real pty and a real SQLite file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devices.lockerboard import DoorJammed, LockerBus, LockerSimulator
from kiosk.config import CompartmentSpec
from locker.audit import AuditLog
from locker.compartments import (
    BoardNotAnswering,
    CompartmentBusy,
    CompartmentConfigError,
    CompartmentNotAvailable,
    CompartmentSize,
    CompartmentState,
    NoCompartmentFree,
    OverrideNeedsReason,
)
from locker.db import Database
from locker.outbox import Outbox
from locker.service import LockerEvent, LockerEventKind, LockerService
from locker.transactions import TxState

BOARDS = {0: "cu48", 1: "cu48"}
SPECS = (
    CompartmentSpec("A01", "small", 0, 0),
    CompartmentSpec("A02", "small", 0, 1),
    CompartmentSpec("B01", "medium", 1, 0),
    CompartmentSpec("B02", "large", 1, 1),
)
URL = "json://127.0.0.1:9/locker-alerts"


class Clock:
    """Real time plus an offset the test can push forward (the poller still needs time to move)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Rig:
    sim: LockerSimulator
    bus: LockerBus
    db: Database
    audit: AuditLog
    outbox: Outbox
    clock: Clock
    make: Callable[..., LockerService]
    events: list[LockerEvent]

    def alerts(self, kind: str) -> list[str]:
        return [i.title for i in self.outbox.items() if i.kind == f"locker.{kind}"]

    def pulses(self) -> dict[str, int]:
        return dict(self.sim.ctl_state()["open_commands"])


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    services: list[LockerService] = []
    with LockerSimulator(pacing=False, boards=BOARDS) as sim:
        bus = LockerBus(sim.port, boards=BOARDS, pulse_ms=0, gap_ms=2, timeout=0.15)
        bus.open()
        db = Database(tmp_path / "kiosk.sqlite3")
        audit = AuditLog(db)
        outbox = Outbox(db, [URL])
        clock = Clock()
        events: list[LockerEvent] = []

        def make(**kw: object) -> LockerService:
            args: dict[str, object] = dict(
                clock=clock,
                door_open_confirm_s=0.3,
                poll_interval=0.02,
                left_open_reminder_s=0.15,
                left_open_alert_s=0.3,
                reservation_ttl_s=60,
            )
            args.update(kw)
            svc = LockerService(db, bus, audit, outbox, SPECS, **args)  # type: ignore[arg-type]
            svc.subscribe(events.append)
            services.append(svc)
            return svc

        yield Rig(sim, bus, db, audit, outbox, clock, make, events)  # type: ignore[misc]
        for svc in services:
            svc.stop()
        bus.close()
        db.close()


def eventually(check: Callable[[], bool], within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()


# -- allocation ------------------------------------------------------------------------------------
def test_resident_chooses_size_and_a_full_size_names_the_larger_free_ones(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    assert svc.free_counts() == {CompartmentSize.SMALL: 2, CompartmentSize.MEDIUM: 1, CompartmentSize.LARGE: 1}
    a = svc.reserve("small", case_code="C1")
    assert (a.id, a.state, a.case_code) == ("A01", CompartmentState.RESERVED, "C1")
    assert svc.reserve("small", case_code="C1").id == "A01"  # asking again keeps the same one
    assert svc.reserve("small", case_code="C2").id == "A02"
    with pytest.raises(NoCompartmentFree) as err:
        svc.reserve("small", case_code="C3")
    assert err.value.larger_free == {CompartmentSize.MEDIUM: 1, CompartmentSize.LARGE: 1}
    svc.reserve("medium", case_code="C3")
    with pytest.raises(NoCompartmentFree) as err:
        svc.reserve("small", case_code="C4")
    assert err.value.larger_free == {CompartmentSize.LARGE: 1}
    assert err.value.code == "lockers.size_full"


def test_reservation_expires_and_release_frees(rig: Rig) -> None:
    svc = rig.make(reservation_ttl_s=30)
    svc.start()
    svc.reserve("large", case_code="C1")
    assert svc.free_counts()[CompartmentSize.LARGE] == 0
    rig.clock.offset += 31
    assert svc.free_counts()[CompartmentSize.LARGE] == 1
    assert svc.compartment("B02").case_code is None
    assert any(e.kind is LockerEventKind.RESERVATION_EXPIRED and e.case_code == "C1" for e in rig.events)
    svc.reserve("medium", case_code="C2")
    svc.release("B01", actor="resident")
    assert svc.compartment("B01").state is CompartmentState.FREE


# -- the happy path ----------------------------------------------------------------------------------
def test_deposit_opens_once_then_closing_leaves_papers_held_and_collect_frees(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    c = svc.reserve("small", case_code="C1")
    tx = svc.open(c.id, case_code="C1", purpose="deposit", actor="resident")
    assert tx.state is TxState.DOOR_OPENED
    assert rig.pulses() == {"0:0": 1}
    with pytest.raises(CompartmentBusy):
        svc.open(c.id, case_code="C1", purpose="deposit", actor="resident")
    rig.sim.control("close", board=0, lock=0)
    assert svc.wait_closed(tx, timeout=3)
    held = svc.compartment(c.id)
    assert (held.state, held.case_code) == (CompartmentState.HOLDING, "C1")
    assert [h.id for h in svc.holding()] == ["A01"]
    assert svc.transaction(tx.id).state is TxState.DOOR_CLOSED
    assert rig.pulses() == {"0:0": 1}  # exactly one pulse for the deposit
    with pytest.raises(CompartmentNotAvailable):
        svc.open(c.id, case_code="OTHER", purpose="collect", actor="staff:01")
    tx2 = svc.open(c.id, case_code="C1", purpose="collect", actor="staff:01")
    rig.sim.control("close", board=0, lock=0)
    assert svc.wait_closed(tx2, timeout=3)
    assert svc.compartment(c.id).state is CompartmentState.FREE
    assert svc.unfinished() == []
    actions = [r["action"] for r in rig.audit.rows("C1")]
    assert actions.count("locker.open_intent") == 2 and actions.count("locker.door_closed") == 2
    assert rig.audit.verify().ok


def test_lost_board_answer_is_settled_from_the_sensor_without_a_second_pulse(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    svc.stop()  # no status polls in between: the spoiled answer must be the open's
    # spoil the answer once the intent is written (after the board's status was asked before it)
    svc.crash_hook = lambda step: rig.sim.control("corrupt", times=1) if step == "intent_committed" else None
    tx = svc.open("A02", case_code="C1", purpose="deposit", actor="resident")
    assert tx.state is TxState.DOOR_OPENED and "answer lost" in tx.result
    assert rig.pulses() == {"0:1": 1}


# -- failures ------------------------------------------------------------------------------------------
def test_jammed_door_goes_out_of_order_with_an_alert_and_another_compartment_works(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    rig.sim.control("jam", board=0, lock=0)
    c = svc.reserve("small", case_code="C1")
    with pytest.raises(DoorJammed):
        svc.open(c.id, case_code="C1", purpose="deposit", actor="resident")
    jammed = svc.compartment("A01")
    assert jammed.state is CompartmentState.OUT_OF_ORDER and jammed.needs_staff and jammed.case_code is None
    assert rig.alerts("door_jammed") == ["Compartment A01: jammed"]
    assert svc.history(compartment_id="A01")[-1].state is TxState.JAMMED
    other = svc.reserve("small", case_code="C1")
    assert other.id == "A02"
    tx = svc.open(other.id, case_code="C1", purpose="deposit", actor="resident")
    assert tx.state is TxState.DOOR_OPENED
    assert rig.pulses() == {"0:0": 1, "0:1": 1}
    time.sleep(0.4)  # the watcher's own jam window passes: no second alert for the same jam
    assert len(rig.alerts("door_jammed")) == 1


def test_power_lost_on_the_board_sends_nothing_and_the_compartment_stays_usable_later(rig: Rig) -> None:
    """A board without power gets no pulse (a status query first): no ambiguous unlock, no out-of-order.

    Issue 11: before, the pulse went out to a dead board, the door could not be confirmed, the
    resident was told "door state unclear" and the compartment stayed out of order.
    """
    svc = rig.make()
    svc.start()
    c = svc.reserve("medium", case_code="C9")
    rig.sim.control("power", board=1, on=False)
    with pytest.raises(BoardNotAnswering):
        svc.open(c.id, case_code="C9", purpose="deposit", actor="resident")
    assert rig.pulses() == {}
    assert svc.history(compartment_id="B01") == [] and svc.unfinished() == []
    assert svc.compartment("B01").state is CompartmentState.RESERVED  # still the resident's, not out of order
    assert svc.silent_boards() == {1} and svc.board_status() == {0: "answering", 1: "silent"}
    assert not rig.alerts("unlock_ambiguous")
    svc.release("B01", actor="resident")
    assert svc.free_counts()[CompartmentSize.MEDIUM] == 0  # B01 is on the silent board
    rig.sim.control("power", board=1, on=True)
    assert eventually(lambda: svc.silent_boards() == set())  # the door poller hears it again
    assert svc.free_counts()[CompartmentSize.MEDIUM] == 1


def test_door_opened_with_no_command_alerts_staff(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    assert eventually(lambda: svc._watcher.has_baseline)
    rig.sim.control("force_open", board=1, lock=1)
    assert eventually(lambda: rig.alerts("door_forced") == ["Compartment B02 opened without a command"])
    assert any(e.kind is LockerEventKind.FORCED_OPEN and e.compartment_id == "B02" for e in rig.events)
    assert rig.pulses() == {}


def test_door_left_open_reminds_the_person_then_alerts_staff_and_is_closed_later(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    tx = svc.open("A01", case_code="C1", purpose="deposit", actor="resident")
    reminders: list[float] = []
    assert not svc.wait_closed(tx, timeout=0.6, on_reminder=lambda: reminders.append(time.time()))
    assert len(reminders) == 1
    assert rig.alerts("door_left_open") == ["Compartment A01 door left open"]
    assert svc.transaction(tx.id).state is TxState.DOOR_OPENED  # not forgotten
    rig.sim.control("close", board=0, lock=0)
    assert eventually(lambda: svc.transaction(tx.id).state is TxState.DOOR_CLOSED)
    assert svc.compartment("A01").state is CompartmentState.HOLDING
    assert len(rig.alerts("door_left_open")) == 1


def test_wait_closed_stops_on_cancel(rig: Rig) -> None:
    from devices.cancel import CancelToken

    svc = rig.make(left_open_reminder_s=60, left_open_alert_s=120)
    svc.start()
    tx = svc.open("A02", case_code="C1", purpose="deposit", actor="resident")
    cancel = CancelToken()
    threading.Timer(0.1, cancel.cancel).start()
    assert not svc.wait_closed(tx, cancel=cancel)
    assert svc.transaction(tx.id).state is TxState.DOOR_OPENED


# -- staff override and start-up ----------------------------------------------------------------------
def test_override_needs_a_reason_and_is_audited(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    with pytest.raises(OverrideNeedsReason):
        svc.open("B02", case_code=None, purpose="override", actor="staff:01", reason="  ")
    assert rig.pulses() == {}
    svc.set_out_of_order("B02", reason="hinge loose", actor="staff:01")
    tx = svc.open("B02", case_code=None, purpose="override", actor="staff:01", reason="fix hinge")
    rig.sim.control("close", board=1, lock=1)
    assert svc.wait_closed(tx, timeout=3)
    assert svc.compartment("B02").state is CompartmentState.OUT_OF_ORDER  # an override changes no contents
    rows = [r for r in rig.audit.rows() if r["action"] == "locker.override"]
    assert len(rows) == 1 and rows[0]["actor"] == "staff:01" and rows[0]["detail"]["reason"] == "fix hinge"


def test_start_sends_no_open_and_reports_a_door_found_open(rig: Rig) -> None:
    rig.sim.control("force_open", board=0, lock=1)
    svc = rig.make()
    report = svc.start()
    assert report.open_without_tx == ["A02"] and report.settled == [] and report.ambiguous == []
    assert rig.alerts("door_forced")
    time.sleep(0.1)
    assert rig.pulses() == {}
    assert [kind for _, kind, _, _ in rig.sim.request_log if kind == "open"] == []


def test_configuration_mistakes_are_refused(rig: Rig) -> None:
    bad = (CompartmentSpec("A01", "small", 0, 0), CompartmentSpec("A09", "small", 0, 0))
    with pytest.raises(CompartmentConfigError, match="both use board 0 lock 0"):
        LockerService(rig.db, rig.bus, rig.audit, None, bad)
    with pytest.raises(CompartmentConfigError, match="board 7"):
        LockerService(rig.db, rig.bus, rig.audit, None, (CompartmentSpec("Z", "small", 7, 0),))
    with pytest.raises(CompartmentConfigError, match="size"):
        LockerService(rig.db, rig.bus, rig.audit, None, (CompartmentSpec("Z", "huge", 0, 0),))


def test_a_compartment_dropped_from_the_config_is_retired_not_forgotten(rig: Rig) -> None:
    svc = rig.make()
    svc.start()
    tx = svc.open("B01", case_code="C5", purpose="deposit", actor="resident")
    rig.sim.control("close", board=1, lock=0)
    assert svc.wait_closed(tx, timeout=3)
    svc.stop()
    fewer = LockerService(rig.db, rig.bus, rig.audit, rig.outbox, SPECS[:2], poll_interval=0.02)
    try:
        assert fewer.start().retired == ["B01", "B02"]
        assert [c.id for c in fewer.holding()] == ["B01"]
        assert fewer.free_counts()[CompartmentSize.MEDIUM] == 0
    finally:
        fewer.stop()


def test_a_refused_open_takes_the_compartment_out_and_alerts(tmp_path: Path) -> None:
    from devices.lockerboard import LockRefused

    with LockerSimulator(pacing=False, boards={0: "cu48"}, locks_per_board=4) as sim:
        bus = LockerBus(sim.port, boards={0: "cu48"}, pulse_ms=0, gap_ms=2, timeout=0.15)
        bus.open()
        db = Database(tmp_path / "k.sqlite3")
        outbox = Outbox(db, [URL])
        specs = (CompartmentSpec("A01", "small", 0, 0), CompartmentSpec("A09", "small", 0, 9))  # no lock at 9
        svc = LockerService(db, bus, AuditLog(db), outbox, specs, poll_interval=0.02, door_open_confirm_s=0.3)
        svc.start()
        try:
            with pytest.raises(LockRefused):
                svc.open("A09", case_code="C1", purpose="deposit", actor="resident")
            assert svc.compartment("A09").state is CompartmentState.OUT_OF_ORDER
            assert svc.history(compartment_id="A09")[-1].state is TxState.REFUSED
            assert [i.kind for i in outbox.items()] == ["locker.lock_refused"]
            assert svc.reserve("small", case_code="C1").id == "A01"
        finally:
            svc.stop()
            bus.close()
            db.close()
