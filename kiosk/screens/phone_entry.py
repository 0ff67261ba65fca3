"""The optional mobile number for text messages: a large numpad that says at once when what is typed
can never be a mainland mobile number (``flows.resident_steps.phone_problem`` after every key), the
number masked once complete (139****5678), and skip. The digits go to the flow on "confirm"."""

from __future__ import annotations

from typing import Any, ClassVar

from flows.resident_steps import PHONE_DIGITS, mask_phone, phone_accepted, phone_problem
from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class PhoneEntryBody(ScreenBody):
    action_labels: ClassVar[dict[str, str]] = {"phone": "action.submit", "skip": "phone.skip"}

    def show(self, view: View, app: UiContext) -> None:
        self._app = app
        self.ids.message.text = app.tr(view.message or "phone.enter")
        self.ids.message.color = ui_theme.TEXT if view.message in ("", "phone.enter") else ui_theme.HELP
        pad = self.ids.pad
        pad.max_length = PHONE_DIGITS + 1  # one digit too many is typed and said, not silently dropped
        pad.relabel()
        pad.unbind(value=self._typed)
        pad.bind(value=self._typed)
        self._typed(pad, pad.value)

    def _typed(self, pad: Any, value: str) -> None:
        """Said at once: the problem with what is typed so far, or the number masked once complete."""
        app = getattr(self, "_app", None)
        if app is None:
            return
        problem = phone_problem(value)
        if problem:
            self.ids.hint.text = app.tr(problem)
            self.ids.hint.color = ui_theme.HELP
        elif phone_accepted(value):
            self.ids.hint.text = app.tr("phone.entered", masked=mask_phone(value))
            self.ids.hint.color = ui_theme.TEXT
        else:
            self.ids.hint.text = app.tr("phone.hint")
            self.ids.hint.color = ui_theme.TEXT
        pad.masked = phone_accepted(value)

    def action_data(self, action: str) -> dict[str, Any]:
        return {"phone": self.ids.pad.value} if action == "phone" else {}

    def leaving(self, app: UiContext) -> None:
        self.ids.pad.value = ""
        self.ids.pad.masked = False


class PhoneEntryScreen(KioskScreen):
    body_class = PhoneEntryBody


load_kv(__file__)
