"""A pulse that may have opened a door: the kiosk is SIGKILLed between the lock's pulse and recording it.

Fault injected from outside: the kiosk process is killed with SIGKILL right after the board took the
open (``pulse_unrecorded``) while the simulated boards live on in another process; the resident
shuts the door while the kiosk is down. Then the kiosk starts again. Checked: the compartment is
held for the case (never free for the next resident), the case is not cancelled and is on the
staff's "needs a check" list, and staff alerts are in the outbox; staff settle it on the compartment
screen ("check and return to service", then "papers inside" or "empty").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_locker_crash import SimHost, fresh, host, restart  # noqa: F401  (fixtures)

from flows.recovery import recover_flows
from flows.staff_pickup import StaffPickupFlow
from locker.compartments import CompartmentState, NoCompartmentFree
from locker.outbox import Outbox
from locker.staff import StaffAccounts
from locker.store import Store
from locker.submissions import CaseState, Identity
from locker.transactions import TxState


def test_kill_between_pulse_and_record_with_the_door_shut_meanwhile_goes_to_staff(
    host: SimHost,  # noqa: F811
    restart: list,  # noqa: F811
    tmp_path: Path,
) -> None:
    data = Path(host.db).parent
    key = tmp_path / "keys" / "kiosk.key"
    with Store.open(data, key, create_key=True) as store:  # the resident's draft, as the deposit opens it
        ticket = store.submissions.open_draft(
            service_id="social_security_card_replacement",
            required_papers=[],
            identity=Identity("张三", "11010119900307777X"),
        )
    code = ticket.case_code
    host.crash_open("A02", code, "pulse_unrecorded")  # SIGKILL after the board took the pulse
    assert host.pulses() == {"0:1": 1}
    host.ctl("close", board=0, lock=1)  # the papers went in and the door was shut while the kiosk was down

    svc = fresh(host, restart)
    report = svc.start()
    store = Store.open(data, key)
    try:
        alerts = Outbox(store.db, ["json://127.0.0.1:9/kiosk-alerts"])
        flows = recover_flows(svc, store.submissions, alerts)
        assert [(t.compartment_id, t.state) for t in report.ambiguous] == [("A02", TxState.AMBIGUOUS)]
        assert host.pulses() == {"0:1": 1}  # nothing pulsed again
        c = svc.compartment("A02")
        assert (c.state, c.case_code, c.needs_staff) == (CompartmentState.OUT_OF_ORDER, code, True)
        assert "pulse may have gone out" in c.note
        # the case is kept (not cancelled) and staff are told twice: the door and the case
        assert store.submissions.get_case(code).state is CaseState.DRAFT
        assert flows.to_staff == [code] and flows.cancelled == []
        kinds = [i.kind for i in alerts.items()]
        assert "locker.unlock_ambiguous" in kinds and "deposit_unclear" in kinds
        # the next resident is never given A02
        with pytest.raises(NoCompartmentFree):
            for _ in range(2):
                got = svc.reserve("small", case_code="NEXT")
                assert got.id != "A02"
                tx = svc.open(got.id, case_code="NEXT", purpose="deposit", actor="resident")
                host.ctl("close", board=got.board, lock=got.lock)
                assert svc.wait_closed(tx, timeout=5)
        # the staff screen lists it under "needs a check" with the case
        staff = StaffPickupFlow(
            staff=StaffAccounts(store.db, store.audit), lockers=svc, submissions=store.submissions
        )
        assert [(r["compartment"], r["case_code"]) for r in staff.needs_check()] == [("A02", code)]
    finally:
        store.close()


class Killed(BaseException):
    """Stands for the SIGKILL inside one process: nothing after the intent runs."""


def restart_lockers(rig, kill_at: str, case_code: str, compartment: str):  # type: ignore[no-untyped-def]
    """The open of ``compartment`` dies at ``kill_at``; a new locker service starts on the same store."""
    from locker.service import LockerService

    def die(step: str) -> None:
        if step == kill_at:
            raise Killed(step)

    rig.lockers.crash_hook = die
    with pytest.raises(Killed):
        rig.lockers.open(compartment, case_code=case_code, purpose="deposit", actor="resident")
    rig.lockers.stop()
    fresh = LockerService(rig.store.db, rig.bus, rig.store.audit, rig.outbox, rig.lockers.specs,
                          door_open_confirm_s=0.5, poll_interval=0.02)
    rig.lockers = fresh
    return fresh, fresh.start()


@pytest.mark.parametrize("found", ["papers_inside", "empty"])
def test_staff_settle_an_unclear_deposit_with_check_and_return(rig, found: str) -> None:  # type: ignore[no-untyped-def]
    who = Identity("张三", "11010119900307777X")
    ticket = rig.store.submissions.open_draft(
        service_id="social_security_card_replacement", required_papers=[], identity=who
    )
    c = rig.lockers.reserve("small", case_code=ticket.case_code)
    rig.lsim.ctl_jam(c.board, c.lock)  # the door stays shut whatever the pulse did: as if shut while down
    svc, report = restart_lockers(rig, "pulse_unrecorded", ticket.case_code, c.id)
    try:
        settle_with_check(rig, svc, report, ticket, c, found)
    finally:
        svc.stop()


def settle_with_check(rig, svc, report, ticket, c, found: str) -> None:  # type: ignore[no-untyped-def]
    from flow_support import Resident, press, staff_log_in, wait_step, wait_until

    rig.lsim.ctl_jam(c.board, c.lock, on=False)
    rig.lsim.ctl_close(c.board, c.lock)
    assert [t.state for t in report.ambiguous] == [TxState.AMBIGUOUS]
    flow = rig.staff(staff_alerts=rig.outbox)
    flow.lockers = svc
    staff_log_in(flow)
    assert [(r["compartment"], r["case_code"]) for r in flow.view.params["needs_check"]] == [(c.id, ticket.case_code)]
    press(flow, "override")
    press(flow, "select", compartment=c.id)
    press(flow, "check")
    wait_until(lambda: [c.board, c.lock] in rig.open_doors(), 5, "door opened for the check")
    Resident(rig).close_door(c.id)
    wait_step(flow, "checked")
    assert flow.view.message == "staff.check_papers" and flow.view.params["case_code"] == ticket.case_code
    press(flow, found)
    wait_step(flow, "compartments")
    case = rig.store.submissions.get_case(ticket.case_code)
    after = svc.compartment(c.id)
    if found == "papers_inside":  # the resident's case goes to the pending list, the papers are held
        assert case.state is CaseState.COMMITTED and case.compartment_id == c.id
        assert (after.state, after.case_code) == (CompartmentState.HOLDING, ticket.case_code)
        press(flow, "back")
        assert [p["case_code"] for p in flow.view.params["pending"]] == [ticket.case_code]
    else:
        assert case.state is CaseState.CANCELLED
        assert after.state is CompartmentState.FREE
    assert not after.needs_staff and svc.unfinished() == []
    assert svc.history(compartment_id=c.id)[0].state is TxState.RESOLVED
