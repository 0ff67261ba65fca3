"""The simulator panel (``kiosk panel``): buttons that drive the running simulators."""

from __future__ import annotations

from typing import Any

from kiosk.panel.control import PanelButton, PanelControl

__all__ = ["PanelButton", "PanelControl", "run_panel"]


def run_panel(cfg: Any) -> int:
    """Open the panel window for ``kiosk sim all``'s control socket; returns when it is closed."""
    import os

    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", "1000")
    Config.set("graphics", "height", "900")
    for option in list(Config.options("input")):  # one input provider, no doubled clicks
        Config.remove_option("input", option)
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from kiosk.panel.app import PanelApp

    compartments = [(c.id, c.board, c.lock) for c in cfg.lockers.compartments]
    PanelApp(PanelControl(cfg.simulator.control_socket, compartments=compartments)).run()
    return 0
