"""Helpers for the "worst night" tests (tests/test_night_*.py): cases put into compartments for real.

A case is deposited through the locker service on the simulator (reserve, pulse, the door seen
open, shut by hand, committed), without the resident's face and fingerprint steps, so a test can
fill every compartment in a second and then inject its fault.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flow_support import Rig, wait_until

from flows.machine import FlowMachine
from flows.staff_pickup import StaffPickupFlow
from flows.view import View
from locker.submissions import Identity


def seed_case(rig: Rig, size: str = "small") -> tuple[str, str]:
    """One committed case in a compartment of ``size``; returns (case code, compartment id)."""
    subs = rig.store.submissions
    ticket = subs.open_draft(
        service_id="social_security_card_replacement",
        required_papers=[],
        identity=Identity("张三", "11010119900307777X"),
    )
    c = rig.lockers.reserve(size, case_code=ticket.case_code)
    tx = rig.lockers.open(c.id, case_code=ticket.case_code, purpose="deposit", actor="resident")
    rig.lsim.ctl_close(c.board, c.lock)
    assert rig.lockers.wait_closed(tx, timeout=5), "deposit door not seen closed"
    subs.commit_submission(ticket.case_code, compartment_id=c.id)
    return ticket.case_code, c.id


def fill_all(rig: Rig) -> dict[str, str]:
    """Every compartment of the rig holds one pending case; returns case code → compartment."""
    out = {}
    for size in ("small", "small", "medium", "large"):
        code, cid = seed_case(rig, size)
        out[code] = cid
    return out


@contextmanager
def recorded_views(flow: FlowMachine) -> Iterator[list[View]]:
    views: list[View] = []
    lock = threading.Lock()

    def keep(v: View) -> None:
        with lock:
            views.append(v)

    stop = flow.publisher.subscribe(keep)
    try:
        yield views
    finally:
        stop()


def close_all_doors(rig: Rig) -> None:
    for board, lock in rig.open_doors():
        rig.lsim.ctl_close(board, lock)
    wait_until(lambda: not [t for t in rig.lockers.unfinished() if t.state.in_progress], 10, "doors seen closed")


def next_session(rig: Rig, first: StaffPickupFlow, **kw: object) -> StaffPickupFlow:
    """A later staff session on the same accounts (the badge is registered once per rig)."""
    flow = StaffPickupFlow(
        staff=first.staff, lockers=rig.lockers, submissions=rig.store.submissions, staff_alerts=rig.outbox, **kw
    )
    rig.flows.append(flow)
    return flow
