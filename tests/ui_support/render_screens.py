"""Render every screen with the DemoHost in one language and orientation, normal and large text.

Usage: render_screens.py ORIENTATION LANG SCALE OUT_DIR RESULT_JSON
Writes one PNG per screen and text mode, and a JSON with each screen's widget-tree problems.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uikit  # sets the headless environment before Kivy loads

from flows.view import Screen
from kiosk import ui_theme
from kiosk.app import DemoHost, KioskApp, UiSettings, configure_kivy


def main() -> None:
    orientation, lang, scale, out, result = sys.argv[1], sys.argv[2], float(sys.argv[3]), Path(sys.argv[4]), sys.argv[5]
    size = ui_theme.window_size(orientation, scale)
    configure_kivy(size)
    host = DemoHost()
    settings = UiSettings(orientation=orientation, language=lang, speech=False, idle_timeout=3600)
    app = KioskApp(host, settings)
    report: dict[str, object] = {"size": size, "screens": {}}

    def steps():  # type: ignore[no-untyped-def]
        from kivy.core.window import Window

        for large in (False, True):
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
                mode = "large" if large else "normal"
                name = f"{orientation}-{lang}-{mode}-{screen.value}"
                uikit.screenshot(out / f"{name}.png")
                current = app.sm.current_screen
                from kiosk.widgets import BigButton

                buttons = [w for w in current.walk() if isinstance(w, BigButton) and w.opacity > 0 and w.width > 0]
                report["screens"][name] = {
                    "min_button_height": min((b.height for b in buttons), default=None),
                    "min_button_width": min((b.width for b in buttons), default=None),
                    "screen": app.sm.current,
                    "expected": screen.value,
                    "problems": uikit.check_tree(current, Window.size),
                    "touch": app.touch,
                }

    uikit.step_through(app, steps(), lambda: Path(result).write_text(json.dumps(report, ensure_ascii=False, indent=1)))
    app.run()


if __name__ == "__main__":
    main()
