"""The app's ``FlowHost``: one screen, three flows, and who has the screen now.

The touchscreen shows one View at a time, but the kiosk runs a deposit flow, a result-pickup flow
and a staff flow. ``KioskHost`` decides which of them owns the screen: the idle screen's "start"
begins a deposit, its "pickup" a result pickup, a staff badge on the staff reader the staff flow
(only while no resident is at the screen). Every UserEvent goes to the flow that owns the screen;
when that flow is back at its idle step the host shows its own idle View again.

It republishes the owning flow's Views on one ``ViewPublisher`` (adding what only the host knows,
such as the camera frame size for the face outline and the step bar of the visit), ticks the flows
from a thread of its own, and hands the app non-blocking frame sources for the live previews.

Three things belong to no flow and live here too: the resident's call for help (一键呼叫, from any
resident screen, even the idle one), elder mode's doubled step time-outs, and the reminder that the
ID card is still on the reader after the visit ended.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from flows.machine import FlowMachine, Ticker
from flows.view import Screen, UserEvent, View, ViewPublisher
from kiosk.help_desk import HelpDesk, HelpRequest
from kiosk.visit_steps import with_visit_step

log = logging.getLogger(__name__)

IDLE_STEP = "idle"
CARD_LEFT_STEP = "card_left"
FrameGrab = Callable[[], "np.ndarray | None"]
CardPresent = Callable[[], bool]
ELDER_TIMEOUT_FACTOR = 2.0  # elder mode: every step of a resident flow gets twice the time
CARD_LEFT_WATCH_S = 180.0  # how long the card-left reminder stays before the idle screen returns


class KioskHost:
    """Routes the screen between the deposit, result-pickup and staff flows (see the module doc)."""

    def __init__(
        self,
        deposit: FlowMachine,
        results: FlowMachine,
        staff: Any,
        *,
        guide: Any = None,
        cameras: Mapping[str, FrameGrab] | None = None,
        frame_sizes: Mapping[str, tuple[int, int]] | None = None,
        tick_interval: float = 0.5,
    ) -> None:
        self.deposit = deposit
        self.results = results
        self.staff = staff
        self.cameras = dict(cameras or {})
        self.frame_sizes = dict(frame_sizes or {})
        self.tick_interval = tick_interval
        self.idle_view = View(Screen.IDLE, IDLE_STEP, "idle.welcome", self._idle_params(guide), ("start", "pickup"))
        self.publisher = ViewPublisher(self.idle_view)
        self.active: FlowMachine | None = None
        self._lock = threading.RLock()
        self._ticker: Ticker | None = None
        self._unsubscribe = [
            flow.publisher.subscribe(lambda view, f=flow: self._flow_view(f, view))
            for flow in (deposit, results, staff)
        ]
        self.history: list[str] = []  # screens shown, for tests and the log
        self.help_desk: HelpDesk | None = None
        self.card_present: CardPresent | None = None
        self.elder = False
        self._base_timeouts = {id(f): dict(f.timeouts) for f in (deposit, results)}
        self._visit_started = time.monotonic()
        self._step_started = time.monotonic()
        self._step_key = ""
        self._card_watch: threading.Event | None = None
        self.card_left_view = View(Screen.MESSAGE, CARD_LEFT_STEP, "card_left.title", {}, ("ok",))

    def attach(self, *, help_desk: HelpDesk | None = None, card_present: CardPresent | None = None) -> KioskHost:
        """What the runtime gives besides the flows: the help desk (outbox + audit), the card reader's presence."""
        if help_desk is not None:
            self.help_desk = help_desk
        if card_present is not None:
            self.card_present = card_present
        return self

    @staticmethod
    def _idle_params(guide: Any) -> dict[str, Any]:
        if guide is None:
            return {"services": []}
        categories = getattr(guide, "categories", {})
        return {"services": [{"id": c.id, "name_zh": c.name_zh, "name_en": c.name_en} for c in categories.values()]}

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> KioskHost:
        self._ticker = Ticker(self.deposit, self.results, self.staff, interval=self.tick_interval).start()
        return self

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._card_watch is not None:
            self._card_watch.set()

    # -- views -----------------------------------------------------------------------------------
    def _flow_view(self, flow: FlowMachine, view: View) -> None:
        """A flow published (any thread, under that flow's lock): show it if that flow owns the screen."""
        with self._lock:
            if view.screen is Screen.IDLE and view.step == IDLE_STEP:
                if self.active is flow:
                    log.info("%s back to idle", flow.flow_name)
                    self.active = None
                    self._show(self.idle_view)
                    if flow is not self.staff:
                        self._watch_card_left()
                return
            if self.active is None:
                self.active = flow  # a staff badge, or a flow started by the host
                self._visit_started = time.monotonic()
            if self.active is not flow:
                log.warning("%s published %s while %s owns the screen", flow.flow_name, view.step,
                            self.active.flow_name)
                return
            self._show(self._complete(view, flow))

    def _complete(self, view: View, flow: FlowMachine | None = None) -> View:
        if flow is not None and flow is not self.staff:
            view = with_visit_step(view, flow.flow_name, flow.outcome)
        if view.screen is Screen.FACE and "frame_size" not in view.params:
            size = self.frame_sizes.get("face_camera")
            if size is not None:
                return dataclasses.replace(view, params={**view.params, "frame_size": list(size)})
        return view

    def _show(self, view: View) -> None:
        key = f"{view.screen.value}/{view.step}"
        if key != self._step_key:
            self._step_key, self._step_started = key, time.monotonic()
        self.history.append(key)
        self.publisher.publish(view)

    # -- events ----------------------------------------------------------------------------------
    def send(self, event: UserEvent) -> None:
        """A touch from the app (a worker thread); may take a flow's lock briefly, never a device."""
        if event.action == "help":
            self.call_help()
            return
        with self._lock:
            active = self.active
            if active is None and self.publisher.view.step == CARD_LEFT_STEP and event.action in ("ok", "timeout"):
                self._end_card_left("dismissed")
                return
            if active is None:
                if event.action == "start":
                    self.active = self.deposit
                    target: FlowMachine = self.deposit
                elif event.action == "pickup":
                    self.active = self.results
                    target = self.results
                else:
                    log.debug("idle: ignored %s", event.action)
                    return
                event = UserEvent("start", event.data)
            else:
                target = active
        if event.action == "timeout":
            self._timed_out(target)
            return
        try:
            taken = target.handle(event)
        except Exception:
            log.exception("%s failed on %s", target.flow_name, event.action)
            taken = False
        if not taken and event.action == "start":
            with self._lock:
                if self.active is target and target.view.screen is Screen.IDLE:
                    self.active = None  # the flow could not start (e.g. the kiosk is in use)
        log.debug("%s %s %s", target.flow_name, event.action, "taken" if taken else "ignored")

    def _timed_out(self, flow: FlowMachine) -> None:
        """The app's inactivity time-out: the flow's own time-out path runs now (it ends and wipes).

        At an open compartment door nothing is cut short: the flow watches that door to the end and
        the locker service reminds the resident and alerts staff.
        """
        if flow.view.screen is Screen.DOOR_OPEN:
            log.info("%s: inactivity at an open door left to the flow", flow.flow_name)
            return
        flow.tick(math.inf)

    def badge_tapped(self, uid: str) -> None:
        """From the staff reader's CardWatcher: staff get the screen only when no resident has it."""
        with self._lock:
            if self.active is not None and self.active is not self.staff:
                log.info("staff badge ignored: %s is in use", self.active.flow_name)
                return
            self.active = self.staff
        self.staff.badge_tapped(uid)
        with self._lock:
            if self.active is self.staff and not self.staff.active:
                self.active = None

    # -- help, elder mode, the card left on the reader ---------------------------------------------
    def call_help(self) -> HelpRequest | None:
        """一键呼叫: alert the staff with the kiosk, the step and the time spent (nothing personal)."""
        with self._lock:
            view = self.publisher.view
            flow = self.active
            now = time.monotonic()
            step = view.visit_steps[view.visit_step] if view.visit_steps and view.visit_step >= 0 else view.step
            visit = now - self._visit_started if flow is not None else 0.0
            kwargs = {
                "flow": flow.flow_name if flow is not None else "",
                "screen": view.screen.value,
                "step": step,
                "visit_seconds": visit,
                "step_seconds": now - self._step_started,
            }
        if self.help_desk is None:
            log.warning("help requested at %s but no help desk is attached", kwargs["step"])
            return None
        try:
            return self.help_desk.call(**kwargs)  # type: ignore[arg-type]
        except Exception:  # the resident still sees "help called" and the phone number
            log.exception("could not queue the help alert")
            return None

    def set_elder(self, on: bool) -> None:
        """Elder mode doubles every step's time-out of the resident flows (from their next step on)."""
        self.elder = on
        factor = ELDER_TIMEOUT_FACTOR if on else 1.0
        for flow in (self.deposit, self.results):
            base = self._base_timeouts.get(id(flow), {})
            flow.timeouts = {state: seconds * factor for state, seconds in base.items()}

    def _watch_card_left(self) -> None:
        """After a resident's visit: while the ID card lies on the reader, remind them (loudly) to take it."""
        present = self.card_present
        if present is None:
            return
        if self._card_watch is not None:
            self._card_watch.set()
        stop = self._card_watch = threading.Event()
        threading.Thread(target=self._card_left_loop, args=(present, stop), name="card-left", daemon=True).start()

    def _card_left_loop(self, present: CardPresent, stop: threading.Event) -> None:
        end = time.monotonic() + CARD_LEFT_WATCH_S
        shown = False
        while not stop.is_set() and time.monotonic() < end:
            try:
                on_reader = present()
            except Exception as exc:  # a reader error is not a card: stop reminding
                log.info("card-left check failed: %s", exc)
                on_reader = False
            with self._lock:
                if stop.is_set() or self.active is not None:
                    return  # a new visit or staff took the screen
                if on_reader and not shown:
                    log.info("ID card left on the reader after the visit: reminding")
                    self._show(self.card_left_view)
                    shown = True
                elif not on_reader:
                    if shown:
                        self._end_card_left("taken")
                    return
            stop.wait(0.5)
        with self._lock:
            if shown and self.active is None and self.publisher.view.step == CARD_LEFT_STEP:
                self._end_card_left("gave up")

    def _end_card_left(self, why: str) -> None:
        with self._lock:
            if self._card_watch is not None:
                self._card_watch.set()
            if self.active is None and self.publisher.view.step == CARD_LEFT_STEP:
                log.info("card-left reminder ends: %s", why)
                self._show(self.idle_view)

    # -- cameras ---------------------------------------------------------------------------------
    def frame_source(self, camera: str) -> FrameGrab | None:
        """The newest frame of a camera, or None: never blocks (called from the preview's thread)."""
        return self.cameras.get(camera)


def card_presence(reader: Any) -> CardPresent | None:
    """Whether the ID card still lies on the reader (blocking, one short exchange).

    A SAM module's FIND answers only for a card not read since it was placed, so it cannot see the
    card the resident just used. Reading the card's 最新住址 page can: it answers while the card is
    in the field and fails once it is lifted. The answer is thrown away unread (and never logged).
    """
    if reader is None:
        return None
    finds = getattr(reader, "card_on_reader", None)
    if finds is not None:
        return lambda: bool(finds())
    read_address = getattr(reader, "read_newest_address", None)
    if read_address is None:
        return None

    def present() -> bool:
        try:
            read_address(1.0, None)
        except Exception:  # no card (read failed), or the reader is down: nothing to remind of
            return False
        return True

    return present


def attach_runtime_services(host: KioskHost, runtime: Any, kiosk_name: str) -> KioskHost:
    """Give the host the running kiosk's outbox and audit log (help calls) and its ID card reader."""
    store = getattr(runtime, "store", None)
    desk = HelpDesk(kiosk_name, getattr(runtime, "outbox", None), getattr(store, "audit", None))
    drivers = getattr(runtime, "drivers", {}) or {}
    return host.attach(help_desk=desk, card_present=card_presence(drivers.get("idcard")))


__all__ = ["KioskHost", "attach_runtime_services", "card_presence"]
