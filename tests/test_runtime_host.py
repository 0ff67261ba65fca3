"""KioskHost routing without devices: which flow owns the screen, time-outs, badges, camera frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from flows.machine import IDLE, FlowMachine
from flows.view import Screen, UserEvent
from kiosk.host import KioskHost


class Flow(FlowMachine):
    """A flow with one step after "start" (or a badge), enough to see the routing."""

    default_timeouts = {"step": 30.0}

    def __init__(self, name: str, screen: Screen = Screen.CARD_PROMPT) -> None:
        super().__init__()
        self.flow_name = name
        self.screen = screen
        self.go_idle()

    def go_idle(self) -> None:
        self.enter(IDLE, Screen.IDLE, actions=("start",), timeout=None)

    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        if action == "start":
            self.enter("step", self.screen, "card.place", actions=("next", "cancel"))
        elif action == "next":
            self.end("done", "results.thank_you")

    def badge_tapped(self, uid: str) -> None:
        with self._lock:
            if self.state == IDLE:
                self.enter("step", Screen.STAFF_PIN, "staff.enter_pin", actions=("pin", "cancel"))


def host(**kw: Any) -> tuple[KioskHost, Flow, Flow, Flow]:
    deposit, results, staff = Flow("deposit"), Flow("results", Screen.RESULT_PICKUP), Flow("staff")
    return KioskHost(deposit, results, staff, **kw), deposit, results, staff


def test_idle_buttons_start_the_deposit_or_the_result_pickup_and_the_end_returns_to_idle() -> None:
    h, deposit, results, _ = host()
    assert h.publisher.view.screen is Screen.IDLE and h.publisher.view.actions == ("start", "pickup")
    h.send(UserEvent("pickup"))
    assert h.active is results and h.publisher.view.screen is Screen.RESULT_PICKUP
    h.send(UserEvent("next"))
    assert h.publisher.view.message == "results.thank_you"
    h.send(UserEvent("ok"))
    assert h.active is None and h.publisher.view.screen is Screen.IDLE
    h.send(UserEvent("start"))
    assert h.active is deposit and h.publisher.view.screen is Screen.CARD_PROMPT
    assert results.state == IDLE


def test_a_badge_takes_the_screen_only_when_nobody_is_at_it() -> None:
    h, deposit, _, staff = host()
    h.send(UserEvent("start"))
    h.badge_tapped("04A1B2C3")
    assert h.active is deposit and staff.state == IDLE
    h.send(UserEvent("cancel"))
    h.send(UserEvent("ok"))
    h.badge_tapped("04A1B2C3")
    assert h.active is staff and h.publisher.view.screen is Screen.STAFF_PIN


def test_the_apps_inactivity_timeout_runs_the_flows_own_timeout_but_not_at_an_open_door() -> None:
    h, deposit, _, _ = host()
    h.send(UserEvent("start"))
    h.send(UserEvent("timeout"))
    assert deposit.outcome == "timeout" and h.publisher.view.message == "flow.timed_out"
    h.send(UserEvent("timeout"))  # on the closing message: straight back to idle
    assert h.publisher.view.screen is Screen.IDLE
    door = Flow("deposit", Screen.DOOR_OPEN)
    h2 = KioskHost(door, Flow("results"), Flow("staff"))
    h2.send(UserEvent("start"))
    h2.send(UserEvent("timeout"))
    assert door.state == "step" and h2.publisher.view.screen is Screen.DOOR_OPEN


def test_previews_get_the_newest_frame_and_the_face_view_its_frame_size() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    face = Flow("deposit", Screen.FACE)
    h = KioskHost(face, Flow("results"), Flow("staff"), cameras={"face_camera": lambda: frame},
                  frame_sizes={"face_camera": (640, 480)})
    source = h.frame_source("face_camera")
    assert source is not None and source() is frame
    assert h.frame_source("document_camera") is None
    h.send(UserEvent("start"))
    assert h.publisher.view.params["frame_size"] == [640, 480]
