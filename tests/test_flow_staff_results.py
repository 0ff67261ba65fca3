"""Staff pickup (PC/SC badge through pcscd + vpcd, PIN) and results back to the resident, on the simulators."""

from __future__ import annotations

import contextlib
import time

import pytest
from flow_support import STAFF_BADGE as BADGE
from flow_support import STAFF_PIN as PIN
from flow_support import Resident, Rig, deposit_to_receipt, place_result, press, staff_log_in, wait_step, wait_until
from pcsc_support import BADGE_READER, PCSCD, PCSCD_STACK, SKIP_REASON

from devices.pcsc import CardWatcher, PcscError, PcscReader, VirtualCardSimulator
from flows.deposit import DepositFlow
from flows.machine import ENDED, IDLE
from flows.results import ResultPickupFlow
from flows.staff_pickup import StaffPickupFlow
from flows.view import Screen
from locker.staff import staff_actor
from locker.submissions import CaseState


def deposit_one(rig: Rig) -> tuple[str, str, str]:
    """A resident deposits (as in test_flow_deposit); returns (case code, pickup code, compartment)."""
    flow: DepositFlow = rig.deposit()
    compartment = deposit_to_receipt(rig, flow)
    codes = flow.view.params["case_code"], flow.view.params["pickup_code"]
    press(flow, "done")
    rig.fpsim.ctl_lift()
    rig.idsim.ctl_remove()
    return codes[0], codes[1], compartment


def collect(rig: Rig, flow: StaffPickupFlow, case_code: str, compartment: str) -> None:
    staff_log_in(flow)
    press(flow, "open", case_code=case_code)
    wait_step(flow, "pickups")
    assert flow.view.params["outcome"] == {case_code: "opened"}
    Resident(rig).close_door(compartment)
    wait_until(lambda: compartment not in [c.id for c in rig.lockers.holding()], 5, "door closed, compartment empty")
    press(flow, "collected", case_code=case_code)


def test_staff_badge_pin_open_and_confirm_collected(rig: Rig) -> None:
    case_code, _pickup, compartment = deposit_one(rig)
    flow = rig.staff()
    flow.badge_tapped("DEADBEEF")
    press(flow, "pin", pin="000000")
    assert flow.state == ENDED and flow.view.message == "staff.unknown_badge"
    press(flow, "ok")
    flow.badge_tapped(BADGE)
    press(flow, "pin", pin="111111")
    assert flow.view.message == "staff.wrong_pin" and flow.view.params["tries_left"] == 4
    press(flow, "pin", pin=PIN)
    assert [p["case_code"] for p in flow.view.params["pending"]] == [case_code]
    press(flow, "open", case_code=case_code)
    wait_step(flow, "pickups")
    Resident(rig).close_door(compartment)
    wait_until(lambda: not rig.lockers.holding(), 5, "compartment emptied")
    press(flow, "collected", case_code=case_code)
    assert rig.store.submissions.get_case(case_code).state is CaseState.COLLECTED
    assert flow.view.params["pending"] == []
    press(flow, "done")
    assert flow.state == IDLE
    assert rig.pulses() == {f"0:{rig.door_of(compartment)[1]}": 2}  # deposit + collection, once each


def test_staff_override_needs_a_reason_and_is_audited(rig: Rig) -> None:
    flow = rig.staff()
    staff_log_in(flow)
    press(flow, "override", compartment_id="L01", reason="  ")
    assert flow.view.message == "lockers.override_reason"
    assert rig.pulses() == {}
    press(flow, "override", compartment_id="L01", reason="cleaning the compartment")
    wait_step(flow, "pickups")
    assert flow.view.message == "staff.override_opened"
    rows = [r for r in rig.store.audit.rows() if r["action"] == "locker.override"]
    assert len(rows) == 1 and rows[0]["detail"]["reason"] == "cleaning the compartment"
    assert rows[0]["actor"] == staff_actor(BADGE)
    Resident(rig).close_door("L01")


def test_override_from_the_compartment_screen_picks_a_door_and_a_reason(rig: Rig) -> None:
    flow = rig.staff()
    staff_log_in(flow)
    press(flow, "override")  # the button on the pickups screen
    assert flow.view.screen is Screen.STAFF_COMPARTMENTS
    tiles = {t["id"]: t["state"] for t in flow.view.params["compartments"]}
    assert tiles["L01"] == "free" and set(flow.view.params["reasons"]) >= {"door_stuck", "cleaning"}
    press(flow, "select", compartment="L01")
    press(flow, "override")  # no reason chosen yet: nothing opens
    assert flow.view.message == "lockers.override_reason" and rig.pulses() == {}
    press(flow, "reason", reason="door_stuck")
    assert (flow.view.params["selected"], flow.view.params["reason"]) == ("L01", "door_stuck")
    press(flow, "override")
    wait_step(flow, "pickups")
    assert flow.view.message == "staff.override_opened"
    assert rig.pulses() == {f"0:{rig.door_of('L01')[1]}": 1}
    rows = [r for r in rig.store.audit.rows() if r["action"] == "locker.override"]
    assert len(rows) == 1 and rows[0]["detail"]["reason"] == "door_stuck"
    Resident(rig).close_door("L01")


def test_results_back_fetched_with_pickup_code_and_fingerprint(rig: Rig) -> None:
    case_code, pickup, compartment = deposit_one(rig)
    staff = rig.staff()
    collect(rig, staff, case_code, compartment)
    place_result(rig, staff, case_code)
    assert staff.view.message == "staff.result_placed"
    assert rig.store.submissions.get_case(case_code).state is CaseState.RESULT_READY
    press(staff, "done")

    flow = ResultPickupFlow(
        reader=rig.reader,
        face_frames=rig.face_frames,
        fingerprint=rig.sensor,
        lockers=rig.lockers,
        submissions=rig.store.submissions,
        sessions=rig.sessions,
        finger_timeout=5.0,
    )
    rig.flows.append(flow)
    press(flow, "start")
    press(flow, "code")
    rig.fpsim.ctl_place(finger="zhang-right-index")
    press(flow, "code", code="000000" if pickup != "000000" else "111111")
    # a wrong code also asks for the finger: the answer never tells which codes exist
    wait_until(lambda: flow.view.message == "results.code_unknown" and not flow.view.busy, 10, "code refused")
    press(flow, "code", code=pickup)
    wait_until(lambda: rig.open_doors() == [[0, 2]], 10, "result compartment open")
    Resident(rig).close_door("M01")
    wait_until(lambda: flow.state == ENDED, 10, "pickup finished")
    assert flow.view.message == "results.thank_you"
    assert rig.store.submissions.get_case(case_code).state is CaseState.RESULT_COLLECTED
    assert rig.sessions.current is None


def test_results_fetched_with_id_card_and_face(rig: Rig) -> None:
    case_code, _pickup, compartment = deposit_one(rig)
    staff = rig.staff()
    collect(rig, staff, case_code, compartment)
    press(staff, "result", case_code=case_code, size="small")
    wait_until(lambda: len(rig.open_doors()) == 1, 5, "result door open")
    result_compartment = "S01" if rig.open_doors() == [[0, 0]] else "S02"
    Resident(rig).close_door(result_compartment)
    wait_step(staff, "pickups")
    press(staff, "done")
    flow = ResultPickupFlow(
        reader=rig.reader,
        face_frames=rig.face_frames,
        fingerprint=rig.sensor,
        lockers=rig.lockers,
        submissions=rig.store.submissions,
        sessions=rig.sessions,
    )
    rig.flows.append(flow)
    press(flow, "start")
    press(flow, "card")
    time.sleep(0.7)  # the reader sees the field empty before the same card counts as new
    rig.idsim.ctl_insert("zhang_san")
    wait_until(lambda: rig.open_doors() == [list(rig.door_of(result_compartment))], 20, "opened after face check")
    Resident(rig).close_door(result_compartment)
    wait_until(lambda: flow.state == ENDED, 10, "pickup finished")
    assert (flow.outcome, flow.view.message) == ("collected", "results.thank_you")
    assert rig.store.submissions.get_case(case_code).state is CaseState.RESULT_COLLECTED


@pytest.mark.pcsc
@pytest.mark.skipif(PCSCD is None, reason=SKIP_REASON)
def test_badge_tap_on_the_pcsc_reader_starts_the_staff_flow(rig: Rig) -> None:
    PCSCD_STACK.ensure()
    flow = rig.staff()
    watcher = CardWatcher(PcscReader(BADGE_READER), flow.badge_tapped).start()
    card = VirtualCardSimulator(port=35963)
    try:
        card.ctl_tap(uid=BADGE)
        wait_until(lambda: flow.state == "pin", 10, "PIN screen after the tap")
        press(flow, "pin", pin=PIN)
        assert flow.state == "pickups" and flow.view.params["staff"] == "王工作人员"
    finally:
        card.stop()
        watcher.stop()
        with contextlib.suppress(PcscError):
            PcscReader(BADGE_READER).wait_removed(timeout=5)
