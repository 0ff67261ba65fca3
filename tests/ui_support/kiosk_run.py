"""The real kiosk app (KioskRuntime + KioskApp) headless, driven by touches like a person would.

Usage: kiosk_run.py CONFIG CONTROL_SOCKET SHOTS_DIR RESULT_JSON

The touchscreen is touched through Kivy's input path (a MotionEvent at a button's centre, down and
up); the resident's hands act on ``kiosk sim all``'s simulators through the control socket, as the
simulator panel does. Writes what it saw (screens in order, texts, the receipt, the store's view
of the case) as JSON for the pytest side, and screenshots of the main screens.

The staff badge is tapped on the staff reader simulator, a virtual card on vpcd inside the real
pcscd, and only there: the app's PC/SC card watcher must bring up the PIN pad (``badge_by`` records
it, ``badge_card`` what the card saw of pcscd), else the run fails. With no staff reader in the
config (no pcscd on the machine: the pytest side skips the staff test) the staff part and the
resident's result pickup that depends on it are left out, and ``staff`` is false.

Everything that imports Kivy stays under ``main()``: the face worker is a *spawned* process that
re-imports this file as ``__mp_main__``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uikit  # noqa: F401 - sets the headless environment (and sys.path) before Kivy loads

SERVICE = "social_security_card_replacement"
FINGER = "zhang-right-index"


class Failed(Exception):
    pass


def main() -> None:
    config, control, shots, result = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    sys.path.insert(0, str(uikit.ROOT / "tests"))
    import faulthandler
    import os

    # a hang shows every thread's stack instead of a silent time-out of the test
    faulthandler.dump_traceback_later(float(os.environ.get("KIOSK_RUN_TIMEOUT", "450")), exit=True)

    from runtime_support import BLINK, PAPER, Hands

    from flows.view import Screen
    from kiosk import ui_theme
    from kiosk.app import KioskApp, UiSettings, configure_kivy
    from kiosk.config import load_config
    from kiosk.host import attach_runtime_services
    from kiosk.runtime import DEMO_BADGE, DEMO_PIN, KioskRuntime

    cfg = load_config(config)
    runtime = KioskRuntime(cfg, supervise_interval=0.5).start()
    attach_runtime_services(runtime.host, runtime, cfg.name)  # help calls, the card-left reminder: as run_app
    configure_kivy(ui_theme.window_size("portrait", 0.5))
    settings = UiSettings(
        language="zh", speech=False, idle_timeout=3600, required_devices=runtime.required_devices(),
        help_phone=cfg.help_phone,
    )
    app = KioskApp(runtime.host, settings, devices=runtime.trackers())
    hands = Hands(control)
    staff = "staff_reader" in runtime.drivers  # the PC/SC staff reader is configured and watched
    seen: dict[str, Any] = {"screens": [], "shots": [], "touches": [], "staff": staff}

    def note_screen(_dt: float = 0.0) -> None:
        view = app.shown
        if view is not None:
            entry = f"{view.screen.value}/{view.step}"
            if not seen["screens"] or seen["screens"][-1] != entry:
                seen["screens"].append(entry)
                seen.setdefault("messages", []).append(view.message)  # why a visit ended, when it fails

    def texts() -> str:
        return uikit.texts(app.sm.current_screen)

    def buttons() -> list[Any]:
        from kiosk.widgets import BigButton

        return [w for w in app.sm.current_screen.walk() if isinstance(w, BigButton)]

    def until(cond: Callable[[], object], timeout: float, what: str) -> Iterator[float]:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                view = app.shown
                raise Failed(f"timed out waiting for {what}; showing {view}")
            yield 0.05

    def on(screen: Screen, timeout: float = 20.0, *, ready: bool = True) -> Iterator[float]:
        """Wait until the app shows ``screen`` (and, with ready, its buttons are live)."""
        yield from until(
            lambda: app.shown is not None and app.shown.screen is screen and (not ready or not app.shown.busy),
            timeout,
            screen.value,
        )
        yield 0.15  # two frames: the labels have their sizes

    def touch(text: str, *, startswith: bool = False) -> Iterator[float]:
        """Touch the enabled button showing ``text`` (scrolled into view first), as a finger would."""
        def match(b: Any) -> bool:
            return not b.disabled and (b.text.startswith(text) if startswith else b.text == text)

        yield from until(lambda: any(match(b) for b in buttons()), 10, f"button {text!r}")
        yield 0.2  # a button made by this render gets its place in the layout on the next frame
        yield from until(lambda: any(match(b) for b in buttons()), 10, f"button {text!r}")
        seen["touches"].append(text)
        yield from uikit.tap(next(b for b in buttons() if match(b)))

    def shot(name: str, *, variants: bool = True) -> Iterator[float]:
        """A screenshot in Chinese at normal size; with ``variants`` also in elder mode and in English."""
        yield 0.2
        preview = app.sm.current_screen.body.ids.get("preview")
        for _ in range(60):  # a live preview: wait for its first frame
            if preview is None or preview.frames_shown > 0:
                break
            yield 0.05
        yield 0.1
        uikit.screenshot(shots / f"{name}.png")
        seen["shots"].append(name)
        if not variants:
            return
        for suffix, toggle in (("elder", app.toggle_large_text), ("en", app.toggle_language)):
            toggle()
            yield 0.25  # the screen re-lays out, labels get their sizes
            yield 0.1
            uikit.screenshot(shots / f"{name}-{suffix}.png")
            seen["shots"].append(f"{name}-{suffix}")
            toggle()
            yield 0.2

    def in_thread(work: Callable[[], None]) -> threading.Thread:
        t = threading.Thread(target=work, daemon=True)
        t.start()
        return t

    def staff_and_result_pickup(spec: Any, receipt: dict[str, Any]) -> Iterator[float]:
        """Staff badge in, collect the papers, put the result back; the resident fetches it."""
        tr = app.tr
        # -- staff: badge on the staff reader (PC/SC through pcscd and vpcd), PIN on the pad ----------
        try:
            hands("staff_reader", "tap", uid=DEMO_BADGE, kind="badge")
        except (RuntimeError, OSError) as exc:
            raise Failed(f"the staff reader simulator could not tap the badge (pcscd with vpcd up?): {exc}") from exc
        yield from until(
            lambda: app.shown is not None and app.shown.screen is Screen.STAFF_PIN,
            10,
            "the PIN pad after the badge tap on the staff reader (PC/SC)",
        )
        seen["badge_by"] = "staff_reader simulator"
        seen["badge_card"] = hands("staff_reader", "state")
        yield from on(Screen.STAFF_PIN, 10)
        for digit in DEMO_PIN:
            yield from touch(digit)
        yield from shot("10-staff-pin", variants=False)  # staff screens: standard mode, Chinese
        yield from touch(tr("action.submit"))
        yield from on(Screen.STAFF_PICKUPS, 10)
        yield from shot("11-staff-pickups", variants=False)
        seen["pickups_text"] = texts()

        def message(key: str) -> Callable[[], bool]:
            return lambda: app.shown is not None and app.shown.message == key and not app.shown.busy

        yield from touch(tr("action.open"))  # the row's button: staff take the papers out
        yield from until(message("staff.opened"), 20, "opened for staff")
        hands("locker", "close", board=spec.board, lock=spec.lock)
        yield from touch(tr("action.collected"))
        yield from until(message("staff.collected"), 10, "collected")
        seen["case_after_collect"] = runtime.store.submissions.get_case(receipt["case_code"]).state.value
        # ... and later put the result back for the resident
        yield from touch(tr("action.result"))
        yield from until(
            lambda: any(
                t.purpose.value == "result" and t.state.value == "door_opened" for t in runtime.lockers.unfinished()
            ),
            20,
            "result compartment seen open",
        )
        board, lock = hands("locker", "state")["open_doors"][0]
        hands("locker", "close", board=board, lock=lock)
        yield from until(message("staff.result_placed"), 20, "result placed")
        yield from touch(tr("action.done"))
        yield from on(Screen.IDLE, 10)
        # -- the resident fetches the result with the pickup code and the enrolled finger -----------
        yield from touch(tr("action.pickup"))
        yield from on(Screen.RESULT_PICKUP, 10)
        yield from shot("12-result-pickup")
        yield from touch(tr("action.code"))
        yield from on(Screen.CODE_ENTRY, 10)
        for digit in receipt["pickup_code"]:
            yield from touch(digit)
        yield from shot("13-code-entry")
        hands("fingerprint", "place", finger=FINGER)
        yield from touch(tr("action.submit"))
        yield from on(Screen.DOOR_OPEN, 30)  # not busy: the door was seen open
        yield from shot("14-result-door")
        hands("fingerprint", "lift")
        hands("locker", "close", board=board, lock=lock)
        yield from until(message("results.thank_you"), 20, "thank you")
        seen["case_after_pickup"] = runtime.store.submissions.get_case(receipt["case_code"]).state.value
        yield from touch(tr("action.ok"))
        yield from on(Screen.IDLE, 10)
        seen["badge_removed"] = hands("staff_reader", "remove")

    def steps() -> Iterator[float]:
        tr = app.tr
        # -- idle: every device up, the face worker ready ------------------------------------------
        yield from on(Screen.IDLE, 30)
        yield from until(lambda: runtime.face_worker is None or runtime.face_worker.alive, 60, "face worker")
        yield from shot("01-idle")
        seen["idle_text"] = texts()
        # -- deposit ------------------------------------------------------------------------------
        yield from touch(tr("action.start"))
        yield from on(Screen.CARD_PROMPT, 10, ready=False)
        yield from shot("02-card-prompt")
        # the card holder holds still first (no blink yet), so the face step stays on screen for its
        # picture: at the kiosk's priority the check decides within a second of the blink
        hands("face_camera", "show", path=str(BLINK / "00.jpg"))
        hands("document_camera", "show", path=str(PAPER))
        hands("idcard", "insert", card="zhang_san")
        yield from on(Screen.IDENTITY, 20)
        yield from shot("03-identity")
        seen["identity_text"] = texts()
        yield from touch(tr("action.confirm"))
        yield from on(Screen.FACE, 20, ready=False)
        yield from shot("03-face")
        seen["face_text"] = texts()
        hands("face_camera", "show", path=str(BLINK))  # now the blink: the check can decide
        yield from on(Screen.FINGERPRINT, 90, ready=False)
        yield from shot("04-fingerprint")
        seen["fingerprint_text"] = texts()
        finger = in_thread(lambda: hands.enrol_finger(FINGER))
        yield from on(Screen.GUIDE, 40)
        finger.join(5)
        hands("fingerprint", "lift")
        hands("idcard", "remove")
        guide = runtime.deposit.guide
        service = guide.get(SERVICE)
        category = guide.categories[service.category]
        yield from touch(category.name_zh, startswith=True)
        yield from touch(service.name_zh)
        yield from shot("05-guide")
        seen["guide_text"] = texts()
        # 一键呼叫: the resident asks for a person; staff are alerted, the screen says so with the phone
        yield from touch(tr("chrome.help"))
        yield from until(lambda: app.help_shown, 5, "the help answer")
        yield 0.3
        uikit.screenshot(shots / "05b-help.png")
        seen["shots"].append("05b-help")
        seen["help_text"] = uikit.texts(app._help)
        yield from until(
            lambda: any(r["action"] == "kiosk.help_requested" for r in runtime.store.audit.rows()), 10, "help audited"
        )
        seen["help_audit"] = [r["detail"] for r in runtime.store.audit.rows() if r["action"] == "kiosk.help_requested"]
        from kiosk.widgets import BigButton

        yield from uikit.tap(next(w for w in app._help.walk() if isinstance(w, BigButton)))
        yield from until(lambda: not app.help_shown, 5, "the help answer closed")
        yield from touch(tr("action.choose"))
        yield from on(Screen.DOCUMENTS, 20)

        def documents_body() -> Any:
            return app.sm.get_screen(Screen.DOCUMENTS.value).body

        # the live preview outlines the paper the document camera sees, before anything is pressed
        yield from until(lambda: len(documents_body().ids.preview.page_quad) == 4, 20, "the page outlined")
        seen["outline_before_capture"] = [list(c) for c in documents_body().ids.preview.page_quad]
        yield from touch(tr("action.capture"))
        yield from until(lambda: app.shown is not None and app.shown.message == "document.page_ok", 40, "page ok")
        yield from on(Screen.DOCUMENTS)
        yield from until(lambda: len(documents_body().ids.thumbs.children) == 1, 10, "the page's thumbnail")
        yield from until(lambda: len(documents_body().ids.preview.page_quad) == 4, 10, "the outline after the scan")
        seen["thumbnails_shown"] = len(documents_body().ids.thumbs.children)
        yield from shot("06-documents")
        seen["documents_text"] = texts()
        yield from touch(tr("action.next"))
        yield from until(
            lambda: app.shown is not None and app.shown.params.get("current") == "photo_1inch" and not app.shown.busy,
            30,
            "second paper",
        )
        yield from touch(tr("action.skip"))
        yield from on(Screen.COMPARTMENT_SIZE, 20)
        yield from shot("07-compartment-size")
        yield from touch(tr("action.small"), startswith=True)
        yield from until(
            lambda: app.shown is not None and app.shown.message == "door.put_papers_in", 30, "door open"
        )
        yield from shot("08-door-open")
        compartment = app.shown.params["compartment"]
        seen["door_text"] = texts()
        spec = next(c for c in cfg.lockers.compartments if c.id == compartment)
        hands("locker", "close", board=spec.board, lock=spec.lock)
        yield from on(Screen.RECEIPT, 30)
        yield from shot("09-receipt")
        receipt = dict(app.shown.params)
        seen["receipt"] = {k: receipt.get(k) for k in ("case_code", "pickup_code", "compartment", "deferred")}
        seen["receipt_text"] = texts()
        case = runtime.store.submissions.get_case(receipt["case_code"])
        seen["case"] = {"state": case.state.value, "compartment": case.compartment_id}
        seen["holding"] = [c.id for c in runtime.lockers.holding()]
        # the resident forgets the ID card on the reader: after "done" the kiosk reminds them, loudly
        hands("idcard", "insert", card="zhang_san")
        yield from touch(tr("action.done"))
        yield from until(lambda: app.shown is not None and app.shown.step == "card_left", 15, "the card-left reminder")
        yield from shot("09b-card-left")
        seen["card_left_text"] = texts()
        hands("idcard", "remove")
        yield from on(Screen.IDLE, 10)
        seen["sessions_open"] = runtime.sessions.current is not None
        if staff:
            yield from staff_and_result_pickup(spec, receipt)
        # -- out of service: the fingerprint sensor unplugged, then back ----------------------------
        hands("fingerprint", "unplug")
        try:
            yield from on(Screen.OUT_OF_SERVICE, 30, ready=False)
            yield from shot("15-out-of-service")
            seen["oos_text"] = texts()
        finally:
            hands("fingerprint", "plug")
        yield from on(Screen.IDLE, 30)
        seen["screens_after_plug"] = app.sm.current

    def run() -> Iterator[float]:
        try:
            yield from steps()
        except Failed as exc:
            seen["error"] = str(exc)

    from kivy.clock import Clock

    Clock.schedule_interval(note_screen, 0.05)

    def done() -> None:
        note_screen()
        seen["host_history"] = runtime.host.history
        result.write_text(json.dumps(seen, ensure_ascii=False, default=str, indent=1))

    uikit.step_through(app, run(), done)
    try:
        app.run()
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
