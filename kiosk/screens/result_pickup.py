"""Result pickup: the resident's compartment is open; take the papers and close the door."""

from __future__ import annotations

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class ResultPickupBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        compartment = str(view.params.get("compartment", ""))
        self.ids.compartment.text = compartment
        self.ids.message.text = app.tr(view.message or "pickup.door_open", compartment=compartment)


class ResultPickupScreen(KioskScreen):
    body_class = ResultPickupBody


load_kv(__file__)
