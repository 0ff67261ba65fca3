"""A garbled fingerprint answer during capture: noise on the sensor's wire in the middle of enrolment.

Fault injected from outside: the simulated sensor sends its next answers with a broken checksum
(line noise) right after the first capture, while the resident lifts and presses again. Checked:
the resident's deposit goes on to the service guide (before: "come back later" and the session
ended although the sensor was fine); noise on every answer still ends with the device named.
"""

from __future__ import annotations

import threading

from flow_support import Rig, deposit_to_fingerprint, wait_step, wait_until

from flows.deposit import DepositFlow
from flows.machine import ENDED


def to_fingerprint(rig: Rig) -> DepositFlow:
    flow = rig.deposit()
    deposit_to_fingerprint(rig, flow)
    return flow


def enrol_with_noise(rig: Rig, flow: DepositFlow, garbled: int) -> threading.Thread:
    """The resident presses, lifts at once after the first capture, and presses again when the screen
    says so; the sensor's answers after the first capture arrive garbled ``garbled`` times."""
    sim = rig.fpsim

    def act() -> None:
        sim.ctl_place(finger="zhang-right-index")
        wait_until(lambda: sim.buffers[1] is not None, what="first capture")
        sim.ctl_lift()  # at once: the rig gives 5 s to lift, which a busy machine must not eat into
        sim.ctl_corrupt(count=garbled)  # the answers to the lift polls arrive garbled
        # Press again only when the kiosk asks for it: the sensor answering "no finger" is not enough,
        # since a garbled "no finger" never reaches the kiosk.
        wait_until(lambda: flow.view.message == "fingerprint.again" or flow.state == ENDED, 30, "press again")
        sim.ctl_place(finger="zhang-right-index")

    t = threading.Thread(target=act, daemon=True)
    t.start()
    return t


def test_two_garbled_answers_during_enrolment_do_not_end_the_session(rig: Rig) -> None:
    flow = to_fingerprint(rig)
    enrol_with_noise(rig, flow, garbled=2)
    wait_step(flow, "guide", timeout=30)
    assert rig.fpsim.corrupt_replies == 0  # the noise really went over the wire
    assert rig.sessions.current is not None and flow.run is not None and flow.run.session.template


def test_noise_on_every_answer_still_ends_with_the_device_named(rig: Rig) -> None:
    flow = to_fingerprint(rig)
    enrol_with_noise(rig, flow, garbled=1000)
    wait_until(lambda: flow.state == ENDED, 30, "session ended")
    assert flow.view.message == "flow.out_of_service" and flow.view.params["device"] == "fingerprint"
    rig.fpsim.ctl_corrupt(count=0)
