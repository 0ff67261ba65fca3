"""Out of order for good: a jammed door, cleared by hand, put back into service by staff.

Fault injected from outside: a compartment's lock jams on the simulated board (the pulse is
accepted, the door stays shut), so the kiosk takes it out of order; then the jam is cleared by
hand. Checked: on the staff compartment screen "check and return to service" opens the door, sees
it shut and frees it (tiles, store rows, audit rows); a jam with a pending case's papers inside
can still be collected by staff; `kiosk locker list / return / check` do the same from a shell.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from flow_support import Resident, Rig, press, staff_log_in, wait_step, wait_until
from night_support import seed_case
from runtime_support import ROOT, Hands, simulators, write_config

from devices.lockerboard import DoorJammed
from kiosk.config import load_config
from locker.compartments import CompartmentState
from locker.store import Store
from locker.submissions import CaseState


def jam_and_clear(rig: Rig, compartment: str, case_code: str | None, purpose: str) -> None:
    board, lock = rig.door_of(compartment)
    rig.lsim.ctl_jam(board, lock)
    with pytest.raises(DoorJammed):
        rig.lockers.open(compartment, case_code=case_code, purpose=purpose, actor="x")
    c = rig.lockers.compartment(compartment)
    assert c.state is CompartmentState.OUT_OF_ORDER and c.needs_staff
    rig.lsim.ctl_jam(board, lock, on=False)  # the technician frees the latch and shuts the door
    rig.lsim.ctl_close(board, lock)


def tiles(flow) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {t["id"]: t["state"] for t in flow.view.params["compartments"]}


def test_check_and_return_to_service_from_the_compartment_screen(rig: Rig) -> None:
    c = rig.lockers.reserve("small", case_code="RESIDENT1")
    jam_and_clear(rig, c.id, "RESIDENT1", "deposit")
    flow = rig.staff()
    staff_log_in(flow)
    assert [r["compartment"] for r in flow.view.params["needs_check"]] == [c.id]  # listed for staff
    press(flow, "override")  # the compartment controls
    assert tiles(flow)[c.id] == "disabled" and "check" in flow.view.actions
    press(flow, "check")  # nothing selected: nothing opens
    assert flow.view.message == "staff.check_choose" and rig.pulses() == {"0:0": 1}
    press(flow, "select", compartment=c.id)
    press(flow, "check")
    wait_until(lambda: flow.view.message == "staff.check_open" and rig.open_doors() == [[0, 0]], 5, "door open")
    Resident(rig).close_door(c.id)
    wait_step(flow, "compartments")
    assert flow.view.message == "staff.returned" and tiles(flow)[c.id] == "free"
    back = rig.lockers.compartment(c.id)
    assert (back.state, back.needs_staff, back.case_code) == (CompartmentState.FREE, False, None)
    actions = [(r["action"], r["actor"]) for r in rig.store.audit.rows() if r["detail"].get("compartment") == c.id]
    assert ("locker.override", flow.actor) in actions and ("locker.back_in_service", flow.actor) in actions
    assert rig.lockers.reserve("small", case_code="RESIDENT2").id == c.id  # given out again


def test_a_door_still_jammed_stays_out_of_order(rig: Rig) -> None:
    c = rig.lockers.reserve("small", case_code="RESIDENT1")
    jam_and_clear(rig, c.id, "RESIDENT1", "deposit")
    rig.lsim.ctl_jam(*rig.door_of(c.id))  # not fixed after all
    flow = rig.staff()
    staff_log_in(flow)
    press(flow, "override")
    press(flow, "select", compartment=c.id)
    press(flow, "check")
    wait_step(flow, "compartments")
    assert flow.view.message == "locker.door_jammed" and tiles(flow)[c.id] == "disabled"
    assert rig.lockers.compartment(c.id).state is CompartmentState.OUT_OF_ORDER


def test_papers_behind_a_cleared_jam_are_collected_then_the_door_checked(rig: Rig) -> None:
    code, cid = seed_case(rig)
    jam_and_clear(rig, cid, code, "collect")
    assert rig.lockers.compartment(cid).case_code == code  # the papers are still recorded inside
    flow = rig.staff()
    staff_log_in(flow)
    press(flow, "open", case_code=code)  # refused before: only an override worked
    wait_step(flow, "pickups")
    assert flow.view.params["outcome"] == {code: "opened"}
    Resident(rig).close_door(cid)
    wait_until(lambda: rig.lockers.compartment(cid).case_code is None, 5, "collection door shut")
    press(flow, "collected", case_code=code)
    assert rig.store.submissions.get_case(code).state is CaseState.COLLECTED
    assert rig.lockers.compartment(cid).state is CompartmentState.OUT_OF_ORDER  # the door still waits for a check


def kiosk(config: Path, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "--config", str(config), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw,  # type: ignore[call-overload]
    )


def test_kiosk_locker_commands_list_check_and_return(tmp_path: Path) -> None:
    config = write_config(tmp_path, pcsc=False)
    cfg = load_config(config)
    with simulators(config, tmp_path / "sim.log") as control:
        hands = Hands(control)
        from kiosk.wiring import make_driver
        from locker.outbox import Outbox
        from locker.service import LockerService

        with Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=True) as store:
            bus = make_driver(cfg, "locker")
            bus.open()
            svc = LockerService.from_config(store.db, bus, store.audit, Outbox(store.db, []), cfg.lockers)
            svc.start()
            hands("locker", "jam", board=0, lock=0)
            with pytest.raises(DoorJammed):
                svc.open("A01", case_code=None, purpose="override", actor="x", reason="test")
            svc.set_out_of_order("A02", reason="door bent", actor="staff:x")
            svc.stop()
            bus.close()
        hands("locker", "jam", board=0, lock=0, on=False)
        hands("locker", "close", board=0, lock=0)

        listing = kiosk(config, "locker", "list").communicate(timeout=60)[0]
        assert "A01" in listing and "out_of_order" in listing and "needs staff" in listing

        check = kiosk(config, "locker", "check", "A01", "--timeout", "30")
        wait_until(lambda: [0, 0] in hands("locker", "state")["open_doors"], 30, "A01 opened by the check")
        time.sleep(2.0)  # a person looks inside: the kiosk sees the door open first
        hands("locker", "close", board=0, lock=0)
        out = check.communicate(timeout=60)[0]
        assert check.returncode == 0 and "A01: free" in out, out

        ret = kiosk(config, "locker", "return", "A02", "--reason", "door straightened")
        out = ret.communicate(timeout=60)[0]
        assert ret.returncode == 0 and "A02: free" in out, out
        with Store.open(cfg.store.data_dir, cfg.store.key_file) as store:
            rows = [r for r in store.audit.rows() if r["action"] == "locker.back_in_service"]
            assert {r["detail"]["compartment"] for r in rows} == {"A01", "A02"}
            assert all(r["actor"].startswith("technician:") for r in rows)
            assert any(r["detail"]["reason"] == "door straightened" for r in rows)

