"""The app's ``FlowHost``: one screen, three flows, and who has the screen now.

The touchscreen shows one View at a time, but the kiosk runs a deposit flow, a result-pickup flow
and a staff flow. ``KioskHost`` decides which of them owns the screen: the idle screen's "start"
begins a deposit, its "pickup" a result pickup, a staff badge on the staff reader the staff flow
(only while no resident is at the screen). Every UserEvent goes to the flow that owns the screen;
when that flow is back at its idle step the host shows its own idle View again.

It republishes the owning flow's Views on one ``ViewPublisher`` (adding what only the host knows,
such as the camera frame size for the face outline), ticks the flows from a thread of its own, and
hands the app non-blocking frame sources for the live previews.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from flows.machine import FlowMachine, Ticker
from flows.view import Screen, UserEvent, View, ViewPublisher

log = logging.getLogger(__name__)

IDLE_STEP = "idle"
FrameGrab = Callable[[], "np.ndarray | None"]


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

    # -- views -----------------------------------------------------------------------------------
    def _flow_view(self, flow: FlowMachine, view: View) -> None:
        """A flow published (any thread, under that flow's lock): show it if that flow owns the screen."""
        with self._lock:
            if view.screen is Screen.IDLE and view.step == IDLE_STEP:
                if self.active is flow:
                    log.info("%s back to idle", flow.flow_name)
                    self.active = None
                    self._show(self.idle_view)
                return
            if self.active is None:
                self.active = flow  # a staff badge, or a flow started by the host
            if self.active is not flow:
                log.warning("%s published %s while %s owns the screen", flow.flow_name, view.step,
                            self.active.flow_name)
                return
            self._show(self._complete(view))

    def _complete(self, view: View) -> View:
        if view.screen is Screen.FACE and "frame_size" not in view.params:
            size = self.frame_sizes.get("face_camera")
            if size is not None:
                return dataclasses.replace(view, params={**view.params, "frame_size": list(size)})
        return view

    def _show(self, view: View) -> None:
        self.history.append(f"{view.screen.value}/{view.step}")
        self.publisher.publish(view)

    # -- events ----------------------------------------------------------------------------------
    def send(self, event: UserEvent) -> None:
        """A touch from the app (a worker thread); may take a flow's lock briefly, never a device."""
        with self._lock:
            active = self.active
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

    # -- cameras ---------------------------------------------------------------------------------
    def frame_source(self, camera: str) -> FrameGrab | None:
        """The newest frame of a camera, or None: never blocks (called from the preview's thread)."""
        return self.cameras.get(camera)


__all__ = ["KioskHost"]
