"""Staff at the kiosk beyond pickups: maintenance mode, the compartment controls, doors that do not open.

On the simulators (serial ptys), real SQLite, and the runtime's own ``DeviceSlot``s around the
rig's drivers, so maintenance shows what the running kiosk would show.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flow_support import STAFF_BADGE as BADGE
from flow_support import Resident, Rig, deposit_to_receipt, press, staff_log_in, wait_step, wait_until

from flows.deposit import DepositFlow
from flows.staff_pickup import StaffPickupFlow
from flows.view import Screen
from kiosk.runtime import DeviceSlot, KioskRuntime, check_slots
from locker.staff import staff_actor
from locker.submissions import CaseState


def device_slots(rig: Rig) -> dict[str, DeviceSlot]:
    """The rig's card reader, fingerprint sensor and locker bus as the runtime keeps them."""
    slots = {
        "idcard": DeviceSlot(
            "idcard", KioskRuntime._opener(rig.reader), driver_status=lambda: rig.reader.status, check=rig.reader.probe
        ),
        "fingerprint": DeviceSlot(
            "fingerprint",
            KioskRuntime._opener(rig.sensor),
            driver_status=lambda: rig.sensor.status,
            check=rig.sensor.probe,
        ),
        "locker": DeviceSlot(
            "locker", KioskRuntime._opener(rig.bus), driver_status=lambda: rig.bus.status, probe=rig.bus.probe
        ),
    }
    for slot in slots.values():
        slot.connect()
    return slots


def staff_flow(rig: Rig, slots: dict[str, DeviceSlot] | None = None) -> StaffPickupFlow:
    """The rig's staff flow, with maintenance mode over ``slots`` when given."""
    if slots is None:
        return rig.staff()
    return rig.staff(
        device_statuses=lambda: {name: s.tracker for name, s in slots.items()},
        check_devices=lambda cancel: check_slots(slots, cancel),
        audit=rig.store.audit,
    )


def rows(flow: StaffPickupFlow) -> dict[str, dict[str, Any]]:
    return {r["device"]: r for r in flow.view.params["devices"]}


def audited(rig: Rig, action: str) -> list[dict[str, Any]]:
    return [r for r in rig.store.audit.rows() if r["action"] == action]


def test_maintenance_lists_devices_runs_the_device_test_and_goes_back(rig: Rig) -> None:
    rig.idsim.ctl_silence(True)  # the card reader hangs before the kiosk opens it
    slots = device_slots(rig)
    flow = staff_flow(rig, slots)
    staff_log_in(flow)
    assert "maintenance" in flow.view.actions
    press(flow, "maintenance")
    assert (flow.view.screen, flow.view.step, flow.view.message) == (Screen.MAINTENANCE, "maintenance",
                                                                     "maintenance.mode")
    seen = rows(flow)
    assert set(seen) == {"idcard", "fingerprint", "locker"}
    assert seen["idcard"]["status"] == "offline" and seen["idcard"]["detail"]  # down, and why
    assert seen["fingerprint"]["status"] == "online" and seen["locker"]["status"] == "online"
    assert set(flow.view.actions) == {"test_devices", "back", "cancel"}
    assert [r["actor"] for r in audited(rig, "kiosk.maintenance_entered")] == [staff_actor(BADGE)]

    # the reader answers again, the fingerprint cable is pulled: the test finds both
    rig.idsim.ctl_silence(False)
    rig.fpsim.ctl_unplug()
    press(flow, "test_devices")
    assert flow.view.busy and flow.view.message == "maintenance.testing"  # the check runs on a worker
    wait_step(flow, "maintenance", timeout=20)
    assert flow.view.message == "maintenance.test_failed" and flow.view.params["count"] == 1
    seen = rows(flow)
    assert seen["idcard"]["status"] == "online" and seen["idcard"]["detail"].startswith("SAM ")
    assert seen["fingerprint"]["status"] == "offline"
    assert seen["locker"]["status"] == "online" and "board" in seen["locker"]["detail"]
    tests = audited(rig, "kiosk.device_test")
    assert len(tests) == 1 and tests[0]["actor"] == staff_actor(BADGE)
    assert tests[0]["detail"]["devices"] == {"idcard": "online", "fingerprint": "offline", "locker": "online"}

    rig.fpsim.ctl_plug()
    press(flow, "test_devices")
    wait_step(flow, "maintenance", timeout=20)
    assert flow.view.message == "maintenance.test_ok"
    assert {r["status"] for r in flow.view.params["devices"]} == {"online"}

    press(flow, "back")
    assert (flow.view.screen, flow.view.step) == (Screen.STAFF_PICKUPS, "pickups")
    assert len(audited(rig, "kiosk.maintenance_left")) == 1


def test_override_is_offered_on_the_pickups_view_and_an_open_door_shows_as_open(rig: Rig) -> None:
    flow = staff_flow(rig, device_slots(rig))
    staff_log_in(flow)
    assert {"override", "maintenance"} <= set(flow.view.actions)
    press(flow, "override")  # the pickups screen's button: no compartment yet
    assert flow.view.screen is Screen.STAFF_COMPARTMENTS
    press(flow, "select", compartment="S02")
    press(flow, "reason", reason="cleaning")
    press(flow, "override")  # the compartment screen sends its choice with the button
    wait_step(flow, "pickups")
    assert flow.view.message == "staff.override_opened" and flow.view.params["compartment"] == "S02"
    row = audited(rig, "locker.override")[-1]
    assert (row["actor"], row["detail"]["compartment"], row["detail"]["reason"]) == (staff_actor(BADGE), "S02",
                                                                                     "cleaning")
    press(flow, "override")  # the door still stands open: its tile says so
    tiles = {t["id"]: t["state"] for t in flow.view.params["compartments"]}
    assert tiles["S02"] == "open" and tiles["S01"] == "free"
    Resident(rig).close_door("S02")
    wait_until(lambda: not [t for t in rig.lockers.unfinished() if t.compartment_id == "S02"], 5, "door closed")
    press(flow, "back")
    press(flow, "override")
    assert {t["id"]: t["state"] for t in flow.view.params["compartments"]}["S02"] == "free"


def test_a_jammed_door_is_reported_by_compartment_and_the_case_stays_pending(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    deposit: DepositFlow = rig.deposit()
    compartment = deposit_to_receipt(rig, deposit)
    case_code = deposit.view.params["case_code"]
    press(deposit, "done")
    rig.fpsim.ctl_lift()
    rig.idsim.ctl_remove()
    rig.lsim.ctl_jam(*rig.door_of(compartment))

    flow = staff_flow(rig)
    staff_log_in(flow)
    caplog.set_level(logging.WARNING, logger="flows.staff_pickup")
    press(flow, "open", case_code=case_code)
    wait_step(flow, "pickups")
    assert flow.view.message == "staff.not_opened"  # not "staff.opened"
    assert flow.view.params["compartments"] == compartment
    assert flow.view.params["outcome"] == {case_code: "locker.door_jammed"}
    [failed] = flow.view.params["failed"]
    assert (failed["compartment"], failed["case_code"], failed["reason"]) == (compartment, case_code,
                                                                              "locker.door_jammed")
    assert failed["message"] == "staff.not_opened_one"
    [row] = flow.view.params["pending"]
    assert (row["case_code"], row["opened"], row["not_opened"]) == (case_code, False, "locker.door_jammed")
    assert rig.store.submissions.get_case(case_code).state is CaseState.COMMITTED
    assert any(compartment in r.getMessage() and "did not open" in r.getMessage() for r in caplog.records)
    assert rig.alerts("locker.door_jammed")  # the locker service told staff (outbox), as for any door


def test_an_override_whose_door_jams_names_the_compartment_and_why(rig: Rig) -> None:
    rig.lsim.ctl_jam(*rig.door_of("M01"))
    flow = staff_flow(rig)
    staff_log_in(flow)
    press(flow, "override")
    press(flow, "select", compartment="M01")
    press(flow, "reason", reason="door_stuck")
    press(flow, "override")
    wait_step(flow, "pickups")
    assert flow.view.message == "staff.override_failed" and flow.view.params["compartment"] == "M01"
    [failed] = flow.view.params["failed"]
    assert (failed["compartment"], failed["reason"]) == ("M01", "locker.door_jammed")
    press(flow, "override")  # the jammed compartment is out of order now
    assert {t["id"]: t["state"] for t in flow.view.params["compartments"]}["M01"] == "disabled"
