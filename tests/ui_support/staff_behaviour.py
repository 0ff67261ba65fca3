"""The staff screens behind the running app: the real staff flow (real store, locker service on the
locker simulator's pty) and its buttons touched through Kivy's input path, as a finger would.

Run by ``behaviour.py staff RESULT_JSON`` (after the Kivy window is configured); writes what it
saw as JSON for tests/test_ui_behaviour.py.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uikit

from devices.cancel import CancelToken
from devices.status import DeviceStatus, StatusTracker
from flows.view import UserEvent
from kiosk.app import KioskApp, UiSettings

STAFF_BADGE, STAFF_PIN = "04A1B2C3", "246813579024"  # 12 digits: the longest PIN accounts allow


class StaffHost:
    """The app's FlowHost around the real staff flow alone (what ``KioskHost`` does once staff have the screen)."""

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.publisher = flow.publisher
        self.events: list[UserEvent] = []

    def send(self, event: UserEvent) -> None:
        self.events.append(event)
        self.flow.handle(event)

    def frame_source(self, camera: str) -> None:
        return None


def staff_flow(tmp: Path, stack: contextlib.ExitStack) -> tuple[Any, Any]:
    """Store, locker simulator + bus + service, a staff account, and the staff flow with two devices."""
    from devices.lockerboard import LockerBus, LockerSimulator
    from flows.staff_pickup import StaffPickupFlow
    from kiosk.config import CompartmentSpec
    from locker.service import LockerService
    from locker.staff import StaffAccounts
    from locker.store import Store

    boards = {0: "cu48"}
    sim = stack.enter_context(LockerSimulator(pacing=False, boards=boards))
    bus = LockerBus(sim.port, boards=boards, pulse_ms=0, gap_ms=2, timeout=0.3)
    bus.open()
    stack.callback(bus.close)
    store = Store.open(tmp / "data", tmp / "keys" / "kiosk.key", create_key=True)
    stack.callback(store.close)
    specs = (CompartmentSpec("S01", "small", 0, 0), CompartmentSpec("M01", "medium", 0, 1))
    lockers = LockerService(store.db, bus, store.audit, None, specs, door_open_confirm_s=0.5, poll_interval=0.02)
    lockers.start()
    stack.callback(lockers.stop)
    accounts = StaffAccounts(store.db, store.audit, scrypt_n=2**10)
    accounts.add_staff(STAFF_BADGE, "王工作人员", STAFF_PIN)
    trackers = {"idcard": StatusTracker("idcard"), "locker": StatusTracker("locker", DeviceStatus.ONLINE)}
    trackers["idcard"].set(DeviceStatus.OFFLINE, "no answer on ttyUSB0")

    def check(cancel: CancelToken) -> dict[str, str]:
        return {"idcard": "still no answer", "locker": bus.probe()}

    flow = StaffPickupFlow(
        staff=accounts,
        lockers=lockers,
        submissions=store.submissions,
        device_statuses=lambda: trackers,
        check_devices=check,
        audit=store.audit,
    )
    return flow, store


def staff_steps(app: KioskApp, host: StaffHost, store: Any, seen: dict) -> Iterator[float]:
    from kiosk.widgets import BigButton

    def shown() -> str:
        return str(app.sm.current)

    def until(cond: Callable[[], object], what: str, timeout: float = 10.0) -> Iterator[float]:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; showing {app.shown}")
            yield 0.05
        yield 0.2  # buttons made by this render get their place in the layout on the next frame

    def bar() -> list[str]:
        return [b.text for b in reversed(app.sm.current_screen.actions.children)]

    def touch(label: str) -> Iterator[float]:
        """Touch the enabled button showing the translated ``label`` at its centre."""
        text = app.tr(label)
        buttons = [w for w in app.sm.current_screen.walk() if isinstance(w, BigButton) and w.text == text]
        assert buttons and not buttons[0].disabled, f"no enabled button {text!r} on {shown()}: {bar()}"
        yield from uikit.tap(buttons[0])

    host.flow.badge_tapped(STAFF_BADGE)
    yield from until(lambda: shown() == "staff_pin", "the PIN pad")
    for digit in STAFF_PIN:  # typed on the pad, as staff do: every one of the 12 digits must be taken
        key = next(w for w in app.sm.current_screen.walk() if isinstance(w, BigButton) and w.text == digit)
        yield from uikit.tap(key)
    seen["pin_display"] = app.sm.current_screen.body.ids.pad.display.text
    yield from touch("action.submit")
    yield from until(lambda: shown() == "staff_pickups", "the pickups screen")
    seen["pickups_bar"] = bar()
    seen["pickups_actions"] = list(app.shown.actions)
    yield from touch("action.override")
    yield from until(lambda: shown() == "staff_compartments", "the compartment controls")
    seen["override_event"] = [e.data for e in host.events if e.action == "override"]
    seen["tiles"] = [w.text for w in app.sm.current_screen.body.ids.tiles.children]
    yield from touch("action.back")
    yield from until(lambda: shown() == "staff_pickups", "back to the pickups")
    yield from touch("action.maintenance")
    yield from until(lambda: shown() == "maintenance" and not app.shown.busy, "maintenance mode")
    seen["maintenance_text"] = uikit.texts(app.sm.current_screen)
    seen["maintenance_bar"] = bar()
    yield from touch("action.test_devices")
    yield from until(
        lambda: app.shown.message == "maintenance.test_failed" and not app.shown.busy, "the device test's result"
    )
    seen["tested_text"] = uikit.texts(app.sm.current_screen)
    yield from touch("action.back")
    yield from until(lambda: shown() == "staff_pickups", "back to the pickups from maintenance")
    seen["events"] = [e.action for e in host.events]
    seen["audit"] = [r["action"] for r in store.audit.rows() if r["action"].startswith("kiosk.")]
    host.flow.end("test_over")


def run_staff(result: Path) -> None:
    with contextlib.ExitStack() as stack:
        flow, store = staff_flow(result.parent / "staff-rig", stack)
        host = StaffHost(flow)
        app = KioskApp(host, UiSettings(language="zh", speech=False, idle_timeout=3600))
        seen: dict = {}
        steps = staff_steps(app, host, store, seen)
        uikit.step_through(app, steps, lambda: result.write_text(json.dumps(seen, ensure_ascii=False, default=str)))
        app.run()
