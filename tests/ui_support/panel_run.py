"""Run the simulator panel headless against a control socket; write what it showed as JSON.

Usage: panel_run.py SOCKET RESULT_JSON PRESS_LABEL
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uikit  # sets the headless environment before Kivy loads

from kiosk.app import configure_kivy
from kiosk.panel.app import PanelApp
from kiosk.panel.control import PanelControl


def main() -> None:
    socket_path, result, press = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    configure_kivy((800, 700))
    app = PanelApp(PanelControl(socket_path))
    seen: dict = {}

    def steps():  # type: ignore[no-untyped-def]
        from kivy.uix.button import Button

        for _ in range(40):
            if not app.status.text.startswith("asking"):
                break
            yield 0.05
        seen["status"] = app.status.text
        buttons = [w for w in app.root.walk() if isinstance(w, Button)]
        seen["buttons"] = [b.text for b in buttons]
        target = next((b for b in buttons if b.text == press), None)
        if target is not None:
            target.dispatch("on_release")
            for _ in range(40):
                yield 0.05
                if not app.status.text.endswith("…"):
                    break
        seen["after_press"] = app.status.text
        uikit.screenshot(uikit.ROOT / "artifacts" / "ui" / f"panel-{'up' if target else 'down'}.png")

    uikit.step_through(app, steps(), lambda: result.write_text(json.dumps(seen, ensure_ascii=False)))
    app.run()


if __name__ == "__main__":
    main()
