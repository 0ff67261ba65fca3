"""The real ``kiosk app`` start (``kiosk.app.run_app``, no host given) on a kiosk that cannot start.

Usage: start_failure_run.py CONFIG SEEN_JSON [RETRY_S]

Logging is set up as `kiosk app` does (stderr, which the pytest side reads). Once the app shows a
screen and the one staff-alert attempt has ended, the texts on screen are written to SEEN_JSON, in
Chinese and in English (the header's language button, as a resident would). Without RETRY_S the
app is then closed; with it (a transient failure) the app keeps running, re-checking every RETRY_S
seconds, until the re-check passes and ``run_app`` returns its restart code. The process exits
with ``run_app``'s return value.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import uikit  # noqa: F401 - sets the headless environment (and sys.path) before Kivy loads


def main() -> int:
    config, seen_path = sys.argv[1], Path(sys.argv[2])
    retry_s = float(sys.argv[3]) if len(sys.argv) > 3 else None
    from kiosk.logsetup import setup_logging

    setup_logging(False, journal=False)
    import faulthandler

    faulthandler.dump_traceback_later(120, exit=True)  # a hang shows its stacks, not a silent time-out

    from kivy.app import App
    from kivy.clock import Clock

    import kiosk.start_failure
    from kiosk.app import run_app
    from kiosk.config import load_config

    if retry_s is not None:
        kiosk.start_failure.RETRY_S = retry_s
    cfg = load_config(config)
    started = time.monotonic()
    seen: dict[str, Any] = {}

    def look(_dt: float) -> bool:
        app: Any = App.get_running_app()
        if app is None or app.shown is None or not hasattr(app, "sm"):
            return True
        host = app.host
        settled = getattr(host, "alert_result", "") is not None and app.shown == host.publisher.view
        if not settled and time.monotonic() - started < 30:
            return True  # the alert attempt decides the last line ("staff have been notified"): drawn yet?
        if "zh" not in seen:
            seen.update(screen=app.shown.screen.value, step=app.shown.step, host=type(host).__name__,
                        alert_result=getattr(host, "alert_result", None),
                        marker=kiosk.start_failure.read_marker())  # what `kiosk release confirm` reads
            seen["zh"] = uikit.texts(app.sm.current_screen)
            app.toggle_language()
            return True  # the next frame draws it
        seen["en"] = uikit.texts(app.sm.current_screen)
        app.toggle_language()
        seen_path.write_text(json.dumps(seen, ensure_ascii=False), encoding="utf-8")
        if retry_s is None:
            app.stop()
        return False

    Clock.schedule_interval(look, 0.1)
    return run_app(cfg, fullscreen=False, orientation=None)


if __name__ == "__main__":
    sys.exit(main())
