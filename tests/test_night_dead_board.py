"""One dead locker board: board 0 loses power, board 1 answers.

Fault injected from outside: the simulated board 0 is powered off on the RS-485 bus — before the
kiosk's door poller has noticed, while a resident is at the size choice. Checked: the resident's
deposit ends with a receipt for a compartment on board 1 (no "door state unclear", nothing pulsed
on board 0, nothing taken out of order); the status per board; the kiosk's out-of-service switch
("compartments") stays up while board 1 has a usable door and goes down only when none is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_support import Rig, choose_service_and_scan, deposit_to_guide, press, wait_step
from runtime_support import write_config

from devices.lockerboard import LockerBus, LockerSimulator
from kiosk.config import CompartmentSpec, load_config
from kiosk.runtime import KioskRuntime
from locker.compartments import CompartmentState
from locker.service import LockerService

BOARDS = {0: "cu48", 1: "cu48"}
SPECS = (
    CompartmentSpec("A01", "small", 0, 0),
    CompartmentSpec("A02", "medium", 0, 1),
    CompartmentSpec("B01", "small", 1, 0),
    CompartmentSpec("B02", "large", 1, 1),
)


@pytest.fixture
def two_boards(rig: Rig) -> Iterator[tuple[LockerSimulator, LockerService]]:
    sim = LockerSimulator(pacing=False, boards=BOARDS).start()
    bus = LockerBus(sim.port, boards=BOARDS, pulse_ms=0, gap_ms=2, timeout=0.2)
    bus.open()
    # the poller is slow here on purpose: the board dies between two of its rounds
    svc = LockerService(rig.store.db, bus, rig.store.audit, rig.outbox, SPECS, door_open_confirm_s=0.5,
                        poll_interval=30.0)
    svc.start()
    try:
        yield sim, svc
    finally:
        svc.stop()
        bus.close()
        sim.stop()


def test_a_board_dying_before_the_door_opens_gives_the_resident_a_door_on_the_live_board(
    rig: Rig, two_boards: tuple[LockerSimulator, LockerService]
) -> None:
    sim, svc = two_boards
    flow = rig.deposit(lockers=svc)
    deposit_to_guide(rig, flow)
    choose_service_and_scan(flow)
    assert flow.view.params["free"]["small"] == 2  # the poller has not noticed anything yet
    sim.ctl_power(0, on=False)
    press(flow, "small")  # A01 (board 0) is promised first
    wait_step(flow, "door")
    assert flow.view.params["compartment"] == "B01"
    sim.ctl_close(1, 0)
    svc.tick()  # the door poller's round (slow in this test) sees the door shut
    wait_step(flow, "receipt")
    assert flow.view.params["compartment"] == "B01"
    assert dict(sim.ctl_state()["open_commands"]) == {"1:0": 1}  # nothing was pulsed on the dead board
    assert [c.id for c in svc.compartments() if c.state is CompartmentState.OUT_OF_ORDER] == []
    assert not [i for i in rig.outbox.items() if i.kind in ("locker.unlock_ambiguous", "door_unknown")]
    assert svc.board_status() == {0: "silent", 1: "answering"}
    assert svc.free_counts()["small"] == 0  # A01 is free but on the dead board: not offered


def test_out_of_service_only_when_no_usable_compartment_is_left(
    rig: Rig, two_boards: tuple[LockerSimulator, LockerService], tmp_path: Path
) -> None:
    sim, svc = two_boards
    runtime = KioskRuntime(load_config(write_config(tmp_path, pcsc=False)))
    runtime.lockers, runtime.lockers_started = svc, True
    runtime.follow_lockers()  # as _build_devices wires it
    tracker = runtime.health["compartments"]
    sim.ctl_power(0, on=False)
    svc.tick()  # one round of the door poller
    runtime._compartments_health()
    assert tracker.status.usable and "board 0 silent" in tracker.detail and "board 1 answering" in tracker.detail
    for cid in ("B01", "B02"):  # board 1's doors go out of order (jammed, say)
        svc.set_out_of_order(cid, reason="jammed", actor="staff:test")
    assert not tracker.status.usable and "no usable compartment" in tracker.detail  # the event updated it
    svc.back_in_service("B02", actor="staff:test", holding=False)
    assert tracker.status.usable
    sim.ctl_power(0, on=True)
    svc.tick()
    assert "board 0 answering" in tracker.detail
