"""Maintenance mode for staff: every device with its status and detail (after a device test: its answer).

The staff flow publishes it from the pickups screen's "maintenance" button; "test devices" and
"back" are the View's actions (the action bar). The volume row sets the spoken prompts' volume
for this running kiosk (``[ui] volume`` is the value at start; quiet hours still cap it at night).
"""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, fitted_label, load_kv

STATUS_COLOUR = {"online": ui_theme.OK, "busy": ui_theme.PRIMARY, "user_error": ui_theme.WARNING_TEXT}


class MaintenanceBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.title.text = app.tr(view.message or "maintenance.mode", **view.params)
        ids.devices_title.text = app.tr("maintenance.devices")
        self._show_volume(app)
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


    def _show_volume(self, app: Any) -> None:
        speaker = getattr(app, "speaker", None)
        ids = self.ids
        ids.quieter.text = app.tr("volume.quieter")
        ids.louder.text = app.tr("volume.louder")
        ids.volume.text = app.tr("volume.title", volume=getattr(speaker, "volume", "?"))

    def change_volume(self, step: int) -> None:
        from kivy.app import App

        app = App.get_running_app()
        speaker = getattr(app, "speaker", None)
        if speaker is None:
            return
        app.set_volume(speaker.volume + step)
        self._show_volume(app)


class MaintenanceScreen(KioskScreen):
    body_class = MaintenanceBody


load_kv(__file__)
