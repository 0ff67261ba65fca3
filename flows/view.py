"""What a flow wants shown: the one contract between flows and any UI.

Flows are plain state machines that import no Kivy. After every event they publish a ``View``; the
touchscreen app renders exactly that (it never keeps its own idea of the flow's state) and sends
back ``UserEvent``s. Tests read the same ``View`` to drive a flow without a screen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.listeners import Listeners


class Screen(StrEnum):
    """Every screen of the kiosk; the app has one `.kv` + one `.py` per value."""

    IDLE = "idle"  # attract loop with the service guide
    CARD_PROMPT = "card_prompt"  # where to put the ID card (animation)
    IDENTITY = "identity"  # masked name + ID number + card photo: "is this you?"
    FACE = "face"  # live preview, face outline, current instruction
    FINGERPRINT = "fingerprint"  # place finger, progress of the two captures
    GUIDE = "guide"  # choose a service; its required papers
    DOCUMENTS = "documents"  # live preview, page outline, thumbnails, retake / add page / next paper
    COMPARTMENT_SIZE = "compartment_size"  # small / medium / large
    DOOR_OPEN = "door_open"  # "put the papers in and close the door" + countdown
    RECEIPT = "receipt"  # pickup / case code, QR code
    STAFF_PIN = "staff_pin"  # number pad after a badge tap
    STAFF_PICKUPS = "staff_pickups"  # pending pickups, open one / all, confirm collected
    STAFF_COMPARTMENTS = "staff_compartments"  # compartment controls, override with a reason
    RESULT_PICKUP = "result_pickup"  # resident fetching results
    CODE_ENTRY = "code_entry"  # on-screen number pad for a case code
    MESSAGE = "message"  # a refusal or notice with one button ("please come during office hours")
    OUT_OF_SERVICE = "out_of_service"  # which service is unavailable and why
    MAINTENANCE = "maintenance"  # staff maintenance mode
    PHONE_ENTRY = "phone_entry"  # optional mobile number for text messages: numpad, masked, skip
    RATING = "rating"  # 好差评: five levels with pictures, reasons for a 差评, skip


@dataclass(frozen=True)
class View:
    """One immutable snapshot of what to show.

    ``message`` is a translation key ("face.move_closer"); ``params`` hold the values the screen
    needs (already masked: a View never carries an unmasked ID number). ``actions`` are the buttons
    the flow accepts now; anything else the UI sends is ignored by the flow.
    """

    screen: Screen
    step: str
    message: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()
    progress: float | None = None  # 0..1 for work that takes time
    deadline: float | None = None  # time.monotonic() when this step times out (countdown on screen)
    busy: bool = False  # a device or pipeline is working: show a spinner, keep the buttons
    #: the step bar: this visit's steps as short keys ("card", "face", …; the UI shows ``steps.<key>``)
    #: and the index of the current one. Empty between visits and on staff screens: no bar.
    visit_steps: tuple[str, ...] = ()
    visit_step: int = -1

    def seconds_left(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)


@dataclass(frozen=True)
class UserEvent:
    """A touch the UI reports: ``action`` is one of the View's ``actions`` (or "cancel")."""

    action: str
    data: dict[str, Any] = field(default_factory=dict)


ViewListener = Callable[[View], None]


class ViewPublisher:
    """Holds the current View of a flow and tells listeners (the UI) about each new one."""

    def __init__(self, initial: View) -> None:
        self._view = initial
        self._lock = threading.Lock()
        self._listeners: Listeners[View] = Listeners()

    @property
    def view(self) -> View:
        return self._view

    def subscribe(self, listener: ViewListener) -> Callable[[], None]:
        return self._listeners.add(listener)

    def publish(self, view: View) -> None:
        with self._lock:
            self._view = view
        for listener in self._listeners:
            listener(view)
