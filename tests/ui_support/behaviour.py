"""Idle-timeout and out-of-service behaviour of the running app, headless.

Usage: behaviour.py timeout|oos|session|staff|voice RESULT_JSON [ESPEAK] — writes what it observed as JSON
for the pytest side. ``voice`` speaks through ESPEAK, a stand-in for espeak-ng that records its
arguments and renders the real espeak-ng's voice into a WAV file per prompt.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import uikit  # sets the headless environment before Kivy loads

from devices.status import DeviceStatus, StatusTracker
from flows.view import Screen
from kiosk import ui_theme
from kiosk.app import DemoHost, KioskApp, UiSettings, configure_kivy


def timeout_steps(app: KioskApp, host: DemoHost, seen: dict):  # type: ignore[no-untyped-def]
    host.show(Screen.MESSAGE)
    yield 0.3
    seen["warning_at_start"] = app.warning_shown
    for _ in range(60):
        if app.warning_shown:
            break
        yield 0.05
    seen["warned"] = app.warning_shown
    seen["warning_text"] = uikit.texts(app._warning) if app._warning else ""
    seen["events_at_warning"] = [e.action for e in host.events]
    from kiosk.widgets import BigButton

    buttons = [w for w in app._warning.walk() if isinstance(w, BigButton)] if app._warning else []
    if buttons:
        buttons[0].dispatch("on_release")  # "继续办理"
    yield 0.2
    seen["warning_after_continue"] = app.warning_shown
    seen["events_after_continue"] = [e.action for e in host.events]
    for _ in range(100):
        if any(e.action == "timeout" for e in host.events):
            break
        yield 0.05
    yield 0.2
    seen["events"] = [e.action for e in host.events]
    seen["timeout_data"] = next((e.data for e in host.events if e.action == "timeout"), None)
    seen["screen_after_timeout"] = app.sm.current
    yield 2.5  # on the idle screen nothing times out
    seen["events_on_idle"] = [e.action for e in host.events]
    seen["warning_on_idle"] = app.warning_shown


def oos_steps(app: KioskApp, host: DemoHost, trackers: dict[str, StatusTracker], seen: dict):  # type: ignore[no-untyped-def]
    host.show(Screen.IDLE)
    yield 0.3
    seen["before"] = app.sm.current
    worker = threading.Thread(target=trackers["idcard"].set, args=(DeviceStatus.OFFLINE, "no answer on ttyUSB0"))
    worker.start()  # drivers change status in their own threads
    worker.join()
    yield 0.3
    seen["while_down"] = app.sm.current
    seen["down_text"] = uikit.texts(app.sm.current_screen)
    seen["offered_while_card_down"] = list(app.shown.actions)  # results can still be fetched
    host.show(Screen.MAINTENANCE)  # staff can still work
    yield 0.3
    seen["staff_while_down"] = app.sm.current
    host.show(Screen.IDLE)
    yield 0.2
    trackers["idcard"].set(DeviceStatus.BUSY)  # busy is usable
    yield 0.2
    seen["busy"] = app.sm.current
    trackers["idcard"].set(DeviceStatus.ONLINE)
    yield 0.3
    seen["after_recovery"] = app.sm.current
    # a resident holding a receipt is not interrupted: the out-of-service screen waits for idle
    host.show(Screen.RECEIPT)
    yield 0.3
    trackers["locker"].set(DeviceStatus.HARDWARE_ERROR, "board 1 not answering")
    yield 0.3
    seen["resident_screen_while_down"] = app.sm.current
    host.show(Screen.IDLE)  # the resident pressed "done"
    yield 0.3
    seen["locker_down"] = app.sm.current
    seen["locker_text"] = uikit.texts(app.sm.current_screen)
    seen["offered_while_locker_down"] = list(app.shown.actions)
    trackers["locker"].set(DeviceStatus.ONLINE)
    yield 0.3
    seen["locker_back"] = app.sm.current


def session_steps(app: KioskApp, host: DemoHost, seen: dict):  # type: ignore[no-untyped-def]
    """What one resident changed is gone for the next; no false warning at an open door."""
    host.show(Screen.GUIDE)
    yield 0.3
    app.toggle_language()
    app.toggle_large_text()
    yield 0.3
    seen["during"] = (app.language, app.large_text)
    host.show(Screen.RECEIPT)
    yield 0.3
    seen["receipt_text"] = uikit.texts(app.sm.current_screen)
    host.show(Screen.IDLE)
    yield 0.3
    seen["next_resident"] = (app.language, app.large_text)
    seen["idle_text"] = uikit.texts(app.sm.current_screen)
    host.show(Screen.DOOR_OPEN)
    for _ in range(40):  # well past the 1.5 s inactivity time-out
        yield 0.05
    seen["door_warning"] = app.warning_shown
    seen["door_events"] = [e.action for e in host.events]


def voice_steps(app: KioskApp, host: DemoHost, seen: dict):  # type: ignore[no-untyped-def]
    """Each step's prompt said when it appears and again on 再听一遍; the card-left reminder loud."""
    from flows.view import View
    from kiosk.widgets import BigButton

    def spoken() -> int:
        return len(app.speaker.spoken)

    for screen in (Screen.CARD_PROMPT, Screen.FINGERPRINT, Screen.RECEIPT):
        before = spoken()
        host.show(screen)
        for _ in range(100):
            if spoken() > before:
                break
            yield 0.05
        seen.setdefault("said_on_show", []).append(spoken() > before)
    yield 0.3
    replay = next(w for w in app.sm.current_screen.walk() if isinstance(w, BigButton) and w.text == "再听一遍")
    before = spoken()
    yield from uikit.tap(replay)
    for _ in range(100):
        if spoken() > before:
            break
        yield 0.05
    seen["replayed"] = app.speaker.spoken[before:]
    seen["receipt_pickup_code"] = host.views[Screen.RECEIPT].params["pickup_code"]
    host.publisher.publish(View(Screen.MESSAGE, "card_left", "card_left.title", {}, ("ok",)))
    for _ in range(100):
        if app.speaker.spoken and "身份证" in app.speaker.spoken[-1] and "读卡区" in app.speaker.spoken[-1]:
            break
        yield 0.05
    for _ in range(40):  # the speaker thread hands the text to the engine
        if any("读卡区" in t for t in app.speaker.engine_texts):
            break
        yield 0.05
    seen["spoken"] = list(app.speaker.spoken)
    seen["engine_texts"] = list(app.speaker.engine_texts)


def main() -> None:
    mode, result = sys.argv[1], Path(sys.argv[2])
    configure_kivy(ui_theme.window_size("portrait", 0.4))
    if mode == "staff":  # the real staff flow behind the app: tests/ui_support/staff_behaviour.py
        from staff_behaviour import run_staff

        run_staff(result)
        return
    host = DemoHost()
    seen: dict = {}
    if mode == "timeout":
        app = KioskApp(host, UiSettings(language="zh", speech=False, idle_timeout=1.5, idle_warning=1.0))
        steps = timeout_steps(app, host, seen)
    elif mode == "voice":
        from kiosk.speech import Speaker

        night = Speaker(enabled=True, espeak=sys.argv[3], volume=90, quiet_hours="00:00-23:59", quiet_volume=20)
        night.player = None  # no loudspeaker on a test machine: the stand-in renders to files
        app = KioskApp(host, UiSettings(language="zh", speech=True, idle_timeout=3600), speaker=night)
        steps = voice_steps(app, host, seen)
    elif mode == "session":
        app = KioskApp(host, UiSettings(language="zh", speech=False, idle_timeout=1.5, idle_warning=1.0))
        steps = session_steps(app, host, seen)
    else:
        trackers = {n: StatusTracker(n, DeviceStatus.ONLINE) for n in ("idcard", "locker")}
        app = KioskApp(host, UiSettings(language="zh", speech=False, idle_timeout=3600), devices=trackers)
        steps = oos_steps(app, host, trackers, seen)
    uikit.step_through(app, steps, lambda: result.write_text(json.dumps(seen, ensure_ascii=False, default=str)))
    app.run()


if __name__ == "__main__":
    main()
