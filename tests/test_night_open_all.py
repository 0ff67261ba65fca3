"""Staff "open all" with many pending cases: doors that take longer than the step's time limit.

Fault injected from outside: every door takes longer to open than the staff step's time limit
allows for all of them together (the locker board's pulse time on the real bus, raised on the
simulator's wire), and staff walk away with doors open (the session times out) or press cancel
half-way. What staff and residents see is checked: the progress on the staff screen, the pending
list, the staff alert in the outbox, and the compartment the next resident is given.
"""

from __future__ import annotations

import pytest
from flow_support import Rig, press, staff_log_in, wait_step, wait_until
from night_support import close_all_doors, fill_all, next_session, recorded_views

from flows.machine import ENDED, IDLE, Ticker
from locker.compartments import CompartmentNotAvailable, NoCompartmentFree
from locker.submissions import CaseState

DOOR_S = 0.15  # each open waits for the board's pulse before the next request (real boards: 0.4 s)


def alerts(rig: Rig, kind: str) -> list[str]:
    return [r["body"] for r in rig.store.db.query("SELECT body FROM outbox WHERE kind = ? ORDER BY id", (kind,))]


def test_open_all_shows_progress_and_does_not_time_out_while_doors_open(rig: Rig) -> None:
    cases = fill_all(rig)
    rig.bus.pulse_s = DOOR_S
    flow = rig.staff(timeouts={"opening": DOOR_S * 2}, staff_alerts=rig.outbox)  # < 4 doors' time
    ticker = Ticker(flow, interval=0.02).start()
    try:
        staff_log_in(flow)
        with recorded_views(flow) as views:
            press(flow, "open_all")
            wait_step(flow, "pickups", timeout=20)
    finally:
        ticker.stop()
    assert flow.view.message == "staff.opened"
    assert flow.view.params["outcome"] == {code: "opened" for code in cases}
    progress = [(v.params["current"], v.params["total"]) for v in views if v.message == "staff.opening_progress"]
    assert sorted(set(c for c, _ in progress)) == [1, 2, 3, 4] and {t for _, t in progress} == {4}
    assert all(v.step != ENDED for v in views), "the step timed out while doors were opening"
    assert sorted(map(tuple, rig.open_doors())) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    close_all_doors(rig)
    press(flow, "collected", case_codes=list(cases))
    assert all(rig.store.submissions.get_case(c).state is CaseState.COLLECTED for c in cases)
    assert rig.lockers.free_counts()["small"] == 2  # confirmed: the compartments are free again


def test_session_timing_out_with_doors_open_keeps_cases_pending_and_compartments_held(rig: Rig) -> None:
    cases = fill_all(rig)
    flow = rig.staff(timeouts={"pickups": 0.3}, staff_alerts=rig.outbox)
    ticker = Ticker(flow, interval=0.02).start()
    try:
        staff_log_in(flow)
        press(flow, "open_all")
        wait_until(lambda: flow.state in (IDLE, ENDED), 10, "staff session timed out")
    finally:
        ticker.stop()
    assert flow.outcome == "timeout"
    # staff are told which doors stand opened and unconfirmed
    [body] = alerts(rig, "collect_unconfirmed")
    for code, compartment in cases.items():
        assert f"{compartment} ({code})" in body
    actions = [r for r in rig.store.audit.rows() if r["action"] == "kiosk.collect_unconfirmed"]
    assert len(actions) == 1 and set(actions[0]["detail"]["cases"]) == set(cases)

    close_all_doors(rig)  # staff shut the doors on the way out, nothing confirmed
    assert all(rig.store.submissions.get_case(c).state is CaseState.COMMITTED for c in cases)
    # the next resident is given no compartment that still holds a pending case's papers
    assert rig.lockers.free_counts() == {s: 0 for s in rig.lockers.free_counts()}
    for size in ("small", "medium", "large"):
        with pytest.raises(NoCompartmentFree):
            rig.lockers.reserve(size, case_code="NEXTRESIDENT")
    with pytest.raises(CompartmentNotAvailable):
        rig.lockers.open("S01", case_code="NEXTRESIDENT", purpose="deposit", actor="resident")

    # the next staff session sees each case as opened-not-confirmed and settles it
    later = next_session(rig, flow)
    staff_log_in(later)
    rows = {r["case_code"]: r for r in later.view.params["pending"]}
    assert set(rows) == set(cases)
    assert all(r["opened"] and r["unconfirmed"]["by"].startswith("staff:") for r in rows.values())
    assert all(r["unconfirmed"]["door"] == "closed" for r in rows.values())
    press(later, "override")
    tiles = {t["id"]: t["state"] for t in later.view.params["compartments"]}
    assert set(tiles.values()) == {"occupied"}
    press(later, "back")
    first = next(iter(cases))
    press(later, "open", case_code=first)  # staff look again: the door opens for that case
    wait_step(later, "pickups")
    assert later.view.params["outcome"] == {first: "opened"}
    close_all_doors(rig)
    press(later, "collected", case_codes=list(cases))
    assert later.view.params["pending"] == []
    assert rig.lockers.reserve("small", case_code="NEXTRESIDENT").id in ("S01", "S02")


def test_cancel_half_way_through_open_all(rig: Rig) -> None:
    cases = fill_all(rig)
    rig.bus.pulse_s = DOOR_S
    flow = rig.staff(staff_alerts=rig.outbox)
    staff_log_in(flow)
    press(flow, "open_all")
    wait_until(lambda: len(rig.open_doors()) >= 2, 10, "two doors open")
    press(flow, "cancel")
    assert flow.state in (IDLE, ENDED)
    wait_until(lambda: flow.busy_workers() == 0, 10, "opening worker to stop")
    opened = {tuple(d) for d in rig.open_doors()}
    assert 2 <= len(opened) < 4, "cancel did not stop the remaining doors"
    bodies = alerts(rig, "collect_unconfirmed")
    named = {code for code in cases if any(code in b for b in bodies)}
    by_door = {code: rig.door_of(cid) for code, cid in cases.items()}
    assert named == {code for code, door in by_door.items() if door in opened}
    close_all_doors(rig)
    later = next_session(rig, flow)
    staff_log_in(later)
    rows = {r["case_code"]: r for r in later.view.params["pending"]}
    assert {c for c, r in rows.items() if r["unconfirmed"]} == named
    assert {c for c, r in rows.items() if not r["opened"]} == set(cases) - named
