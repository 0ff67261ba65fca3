"""Door open: "put the papers in and close the door", with the countdown from the View's deadline."""

from __future__ import annotations

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class DoorOpenBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        compartment = str(view.params.get("compartment", ""))
        self.ids.compartment.text = compartment
        self.ids.message.text = app.tr(view.message or "door.put_papers", compartment=compartment)


class DoorOpenScreen(KioskScreen):
    body_class = DoorOpenBody


load_kv(__file__)
