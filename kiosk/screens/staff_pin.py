"""Staff PIN after a badge tap: masked digits on the number pad, sent with "submit"."""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from locker.staff import PIN_MAX_DIGITS


class StaffPinBody(ScreenBody):
    action_labels = {"pin": "action.submit"}
    def show(self, view: View, app: UiContext) -> None:
        self.ids.message.text = app.tr(view.message or "staff.enter_pin", **view.params)
        # Accounts allow 6–12 digits: the pad must take the longest (it used to stop at 6).
        self.ids.pad.max_length = int(view.params.get("length", PIN_MAX_DIGITS))
        self.ids.pad.relabel()
        if view.message != "staff.enter_pin":
            self.ids.pad.value = ""  # a wrong PIN: type it again

    def action_data(self, action: str) -> dict[str, Any]:
        return {"pin": self.ids.pad.value} if action in ("pin", "submit") else {}

    def leaving(self, app: UiContext) -> None:
        self.ids.pad.value = ""


class StaffPinScreen(KioskScreen):
    body_class = StaffPinBody


load_kv(__file__)
