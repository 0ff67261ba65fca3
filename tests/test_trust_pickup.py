"""Issue 12, pickup-code guessing: limited across sessions (per kiosk with back-off, per code),
failures audited, and the answer to an unknown code is the same as to a known one."""

from __future__ import annotations

from flow_support import Rig, press, wait_until

from flows.machine import ENDED
from flows.results import ResultPickupFlow
from locker.pickup_guard import PickupGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def pickup_flow(rig: Rig, guard: PickupGuard) -> ResultPickupFlow:
    flow = ResultPickupFlow(reader=rig.reader, face_frames=rig.face_frames, fingerprint=rig.sensor,
                            lockers=rig.lockers, submissions=rig.store.submissions, sessions=rig.sessions,
                            finger_timeout=5.0, guard=guard, max_tries=3)
    rig.flows.append(flow)
    return flow


def try_code(flow: ResultPickupFlow, code: str) -> list[tuple[str, str]]:
    """Enter a code with a finger on the sensor; the (step, message) the resident sees until the verdict."""
    seen: list[tuple[str, str]] = []
    press(flow, "code", code=code)

    def verdict() -> bool:
        step = (flow.view.step, flow.view.message or "")
        if not seen or seen[-1] != step:
            seen.append(step)
        return flow.state == ENDED or (flow.view.step == "code" and not flow.view.busy)

    wait_until(verdict, 15, "the code's verdict")
    return seen


def new_session(flow: ResultPickupFlow) -> None:
    if flow.state == ENDED:
        press(flow, "ok")
    wait_until(lambda: flow.view.step == "idle", 5, "idle")
    press(flow, "start")
    press(flow, "code")


def guard_for(rig: Rig, clock: Clock, **kw: float) -> PickupGuard:
    return PickupGuard(rig.store.db, rig.store.audit, lambda c: rig.store.cipher.mac("pickup-guard", c),
                       clock=clock, **kw)


def test_an_unknown_code_is_answered_exactly_like_a_known_code_with_the_wrong_finger(rig: Rig) -> None:
    from test_flow_staff_results import collect, deposit_one

    case_code, pickup, compartment = deposit_one(rig)  # committed, not ready: "exists" to a guesser
    clock = Clock()
    flow = pickup_flow(rig, guard_for(rig, clock))
    rig.fpsim.ctl_place(finger="zhang-right-index")  # the resident's own finger, on any code
    press(flow, "start")
    press(flow, "code")
    unknown = try_code(flow, "000000" if pickup != "000000" else "111111")
    known_not_ready = try_code(flow, pickup)
    assert unknown == known_not_ready, (unknown, known_not_ready)
    assert [s for s, _ in unknown] == ["fingerprint", "code"] and unknown[-1][1] == "results.code_unknown"
    rows = [r for r in rig.store.audit.rows() if r["action"] == "pickup.failed"]
    assert len(rows) == 2 and rows[0]["case_code"] is None
    assert all(pickup not in str(r) for r in rig.store.audit.rows())
    assert collect  # (the helper module is the one the results tests use)


def test_guessing_across_sessions_backs_off_per_kiosk_and_blocks_a_code(rig: Rig) -> None:
    clock = Clock()
    guard = guard_for(rig, clock, free=3, base_s=60, per_code=4)
    flow = pickup_flow(rig, guard)
    rig.fpsim.ctl_place(finger="zhang-right-index")
    press(flow, "start")
    press(flow, "code")
    for code in ("100001", "100002", "100003"):  # three free failures, a new session when one ends
        try_code(flow, code)
        if flow.state == ENDED:
            new_session(flow)
    # the fourth failure starts the back-off: this session ends, and the next one is told to wait
    try_code(flow, "100004")
    assert flow.state == ENDED and flow.view.message == "results.code_unknown_staff"
    new_session(flow)
    seen = try_code(flow, "100005")
    assert flow.state == ENDED and seen[-1][1] == "results.code_wait" and flow.view.params["minutes"] == 1
    assert "fingerprint" not in [s for s, _ in seen]  # refused before any finger is asked for
    clock.now += 61  # the wait is over: one more try is taken, and the wait doubles after it fails
    new_session(flow)
    try_code(flow, "100005")
    assert guard.wait_s() == 120
    failures = [r for r in rig.store.audit.rows() if r["action"] == "pickup.failed"]
    assert len(failures) == 5

    # per code: the same code failing again and again is blocked, even after the kiosk's wait
    clock.now += 7200
    blocked = "246802"
    for _ in range(4):
        guard.failed(blocked, case_code=None)
        clock.now += 7200  # spread out: the kiosk-wide window never fills
    new_session(flow)
    seen = try_code(flow, blocked)
    assert flow.state == ENDED and flow.view.message == "results.code_unknown_staff"
    assert "fingerprint" not in [s for s, _ in seen]
