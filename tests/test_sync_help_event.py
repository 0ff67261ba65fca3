"""一键呼叫 reaches the back office: the help desk's audit row becomes a ``help_requested`` event
for the delivery worker, with the step and the waiting time and nothing personal."""

from __future__ import annotations

from flow_support import Rig

import contract
from kiosk.help_desk import HelpDesk
from kiosk.sync.events import next_events


def test_a_call_for_help_becomes_a_back_office_event_without_personal_data(rig: Rig) -> None:
    desk = HelpDesk("qidu-sim", rig.outbox, rig.store.audit)
    desk.call(flow="deposit", screen="fingerprint", step="fingerprint", visit_seconds=95.2, step_seconds=40.7)
    scan = next_events(rig.store.db, "qidu-sim", 0)
    [event] = [e for e in scan.events if e.kind == contract.EventKind.HELP_REQUESTED]
    assert event.case_code is None and event.actor == "resident"
    assert event.detail["step"] == "fingerprint" and event.detail["step_seconds"] == "40"
    assert event.detail["visit_seconds"] == "95" and set(event.detail) <= {
        "flow", "screen", "step", "visit_seconds", "step_seconds", "repeat"}
    assert contract.KioskEvent.from_json(event.to_json()) == event  # the contract takes it as it is
    assert scan.last_seq >= 1 and next_events(rig.store.db, "qidu-sim", scan.last_seq).events == []
