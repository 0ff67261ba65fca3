"""Code entry for a resident fetching results: digits on the number pad, sent with "submit"."""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class CodeEntryBody(ScreenBody):
    action_labels = {"code": "action.submit"}
    def show(self, view: View, app: UiContext) -> None:
        self.ids.message.text = app.tr(view.message or "code.enter", **view.params)
        self.ids.pad.max_length = int(view.params.get("length", 6))
        self.ids.pad.relabel()

    def action_data(self, action: str) -> dict[str, Any]:
        return {"code": self.ids.pad.value} if action in ("code", "submit") else {}

    def leaving(self, app: UiContext) -> None:
        self.ids.pad.value = ""


class CodeEntryScreen(KioskScreen):
    body_class = CodeEntryBody


load_kv(__file__)
