"""A pulse that may have opened a door: the kiosk is SIGKILLed between the lock's pulse and recording it.

Fault injected from outside: the kiosk process is killed with SIGKILL right after the board took the
open (``pulse_unrecorded``) while the simulated boards live on in another process; the resident
shuts the door while the kiosk is down. Then the kiosk starts again. Checked: the compartment is
held for the case (never free for the next resident), the case is not cancelled and is on the
staff's "needs a check" list, and staff alerts are in the outbox.
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
