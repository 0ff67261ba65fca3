"""Render every screen with the DemoHost in one language and orientation, normal and elder mode.

Usage: render_screens.py ORIENTATION LANG SCALE OUT_DIR RESULT_JSON
Writes one PNG per screen and mode, and a JSON with each screen's widget-tree problems, every
text's contrast against the background measured on the PNG, and the touch targets in pixels and
in millimetres on the configured panel. Besides the 18 screens: the card-left reminder and the
call-for-help answer (a modal over the screen).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uikit  # sets the headless environment before Kivy loads

from flows.view import Screen, View
from kiosk import ui_theme
from kiosk.app import DemoHost, KioskApp, UiSettings, configure_kivy


def main() -> None:
    orientation, lang, scale, out, result = sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
    size = ui_theme.window_size(orientation, scale)
    configure_kivy(size)
    host = DemoHost()
    settings = UiSettings(orientation=orientation, language=lang, speech=False, idle_timeout=3600,
                          help_phone="0571-8800 1234")
    app = KioskApp(host, settings)
    report: dict[str, object] = {"size": size, "screens": {}}

    extra = {  # views that are not a Screen of their own
        "card_left": View(Screen.MESSAGE, "card_left", "card_left.title", {}, ("ok",)),
        "help": View(Screen.FINGERPRINT, "fingerprint", "fingerprint.place", {"mode": "verify"}, ("cancel",),
                     visit_steps=("choose", "verify", "take", "done"), visit_step=1),
    }

    def measure(name: str, root, large: bool) -> None:  # type: ignore[no-untyped-def]
        from kivy.core.window import Window

        from kiosk.widgets import BigButton

        png = out / f"{name}.png"
        uikit.screenshot(png)
        buttons = [w for w in root.walk() if isinstance(w, BigButton) and w.opacity > 0 and w.width > 0]
        report["screens"][name] = {
            "min_button_height": min((b.height for b in buttons), default=None),
            "min_button_width": min((b.width for b in buttons), default=None),
            "mm_per_px": app.mm_per_px,
            "elder": bool(app.large_text),
            "screen": app.sm.current,
            "expected": name.rsplit("-", 1)[-1],
            "problems": uikit.check_tree(root, Window.size),
            "contrast": uikit.text_contrasts(root, png, Window.size),
            "touch": app.touch,
        }

    def steps():  # type: ignore[no-untyped-def]
        for large in (False, True):
            mode = "large" if large else "normal"
            for screen in Screen:
                host.show(screen)
                yield 0.05
                if app.large_text != large:  # back at idle the app resets it for the next resident
                    app.toggle_large_text()
                yield 0.05  # two frames: views land, then labels have their texture sizes
                yield 0.05
                preview = app.sm.current_screen.body.ids.get("preview")
                for _ in range(60):  # the camera scene is built in the feed's thread: wait for a frame
                    if preview is None or preview.frames_shown > 0:
                        break
                    yield 0.05
                yield 0.05
                measure(f"{orientation}-{lang}-{mode}-{screen.value}", app.sm.current_screen, large)
            for key, view in extra.items():
                host.publisher.publish(view)
                yield 0.1
                if key == "help":
                    app.call_help()
                yield 0.1
                yield 0.1
                name = f"{orientation}-{lang}-{mode}-{key}"
                root = app._help if key == "help" else app.sm.current_screen
                measure(name, root, large)
                report["screens"][name]["screen"] = key
                if key == "help":
                    report["screens"][name]["help_text"] = uikit.texts(root)
                    report["screens"][name]["help_events"] = [e.action for e in host.events].count("help")
                    app._close_help()

    uikit.step_through(app, steps(), lambda: Path(result).write_text(json.dumps(report, ensure_ascii=False, indent=1)))
    app.run()


if __name__ == "__main__":
    main()
