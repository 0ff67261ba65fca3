"""Render the idle screen headless and report what it shows: used from an installed wheel too.

Usage: render_idle.py LANG RESULT_JSON PNG
Self-contained on purpose (no tests/ imports): the wheel test runs it with a fresh virtualenv's
Python from outside the source tree, so everything it touches comes from the installed package
(the .kv files, the fonts, the translations in assets/). The idle View carries an after-hours
period around the current time, as the runtime gives it, so the "staff are back" line shows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("KIVY_HOME", os.path.join(tempfile.gettempdir(), "kiosk-release-kivy-home"))


def main() -> None:
    lang, result, png = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    import kiosk
    from flows.view import Screen, View
    from kiosk import ui_theme
    from kiosk.app import DemoHost, KioskApp, UiSettings, configure_kivy

    configure_kivy(ui_theme.window_size("portrait", 0.5))
    from kivy.clock import Clock
    from kivy.core.window import Window

    host = DemoHost()
    app = KioskApp(host, UiSettings(orientation="portrait", language=lang, speech=False, idle_timeout=3600))
    now = dt.datetime.now().replace(second=0, microsecond=0)
    resume = (now + dt.timedelta(days=1)).replace(hour=8, minute=30)
    view = View(Screen.IDLE, "idle", "idle.welcome",
                {"services": [], "after_hours": [((now - dt.timedelta(hours=1)).isoformat(), resume.isoformat())]},
                ("start", "pickup"))
    report: dict[str, object] = {"package": str(Path(kiosk.__file__).parent), "resume": resume.isoformat()}

    def show(_dt: float) -> None:
        host.publisher.publish(view)
        Clock.schedule_once(capture, 0.5)

    def capture(_dt: float) -> None:
        body = app.sm.current_screen.body
        report["screen"] = app.sm.current
        report["texts"] = {key: w.text for key, w in body.ids.items() if hasattr(w, "text")}
        Window.screenshot(name=str(png))
        result.write_text(json.dumps(report, ensure_ascii=False, indent=1))
        app.stop()

    Clock.schedule_once(show, 0.3)
    app.run()


if __name__ == "__main__":
    main()
