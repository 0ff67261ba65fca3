"""A garbled fingerprint answer during capture: noise on the sensor's wire in the middle of enrolment.

Fault injected from outside: the simulated sensor sends its next answers with a broken checksum
(line noise) right after the first capture, while the resident lifts and presses again. Checked:
the resident's deposit goes on to the service guide (before: "come back later" and the session
ended although the sensor was fine); noise on every answer still ends with the device named.
"""

from __future__ import annotations

import threading

from flow_support import Rig, deposit_to_fingerprint, wait_step, wait_until

from flows.machine import ENDED


def to_fingerprint(rig: Rig):  # type: ignore[no-untyped-def]
    flow = rig.deposit()
    deposit_to_fingerprint(rig, flow)
    return flow


def enrol_with_noise(rig: Rig, garbled: int) -> threading.Thread:
    sim = rig.fpsim

    def act() -> None:
        sim.ctl_place(finger="zhang-right-index")
        wait_until(lambda: sim.buffers[1] is not None, what="first capture")
        # Lift at once (the rig gives 5 s to lift: a busy test machine must not turn this into a
        # "finger not lifted" retry), then garble the answers to the polls that follow.
        sim.ctl_lift()
        sim.ctl_corrupt(count=garbled)  # the next answers arrive garbled
        polls = sim.empty_polls
        wait_until(lambda: sim.empty_polls > polls or flow_done.is_set(), 30, what="lift seen")
        sim.ctl_place(finger="zhang-right-index")

    flow_done = threading.Event()
    t = threading.Thread(target=act, daemon=True)
    t.start()
    t.flow_done = flow_done  # type: ignore[attr-defined]
    return t


def test_two_garbled_answers_during_enrolment_do_not_end_the_session(rig: Rig) -> None:
    flow = to_fingerprint(rig)
    enrol_with_noise(rig, garbled=2)
    wait_step(flow, "guide", timeout=30)
    assert rig.fpsim.corrupt_replies == 0  # the noise really went over the wire
    assert rig.sessions.current is not None and flow.run is not None and flow.run.session.template


def test_noise_on_every_answer_still_ends_with_the_device_named(rig: Rig) -> None:
    flow = to_fingerprint(rig)
    t = enrol_with_noise(rig, garbled=1000)
    wait_until(lambda: flow.state == ENDED, 30, "session ended")
    t.flow_done.set()  # type: ignore[attr-defined]
    assert flow.view.message == "flow.out_of_service" and flow.view.params["device"] == "fingerprint"
    rig.fpsim.ctl_corrupt(count=0)
