"""Maintenance mode for staff: every device with its status and detail (after a device test: its answer).

The staff flow publishes it from the pickups screen's "maintenance" button; "test devices" and
"back" are the View's actions (the action bar).
"""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, fitted_label, load_kv

STATUS_COLOUR = {"online": ui_theme.OK, "busy": ui_theme.PRIMARY, "user_error": ui_theme.WARNING}


class MaintenanceBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.title.text = app.tr(view.message or "maintenance.mode", **view.params)
        ids.devices_title.text = app.tr("maintenance.devices")
        grid = ids.devices
        grid.clear_widgets()
        devices: list[dict[str, Any]] = list(view.params.get("devices", []))
        for d in devices:
            status = str(d.get("status", "offline"))
            for text, colour in (
                (app.tr(f"device.{d.get('device')}"), ui_theme.TEXT),
                (app.tr(f"status.{status}"), STATUS_COLOUR.get(status, ui_theme.DANGER)),
                (str(d.get("detail", "")), ui_theme.SECONDARY),
            ):
                grid.add_widget(fitted_label(text, app.font_small, colour, app.touch * 0.7, halign="left"))


class MaintenanceScreen(KioskScreen):
    body_class = MaintenanceBody


load_kv(__file__)
