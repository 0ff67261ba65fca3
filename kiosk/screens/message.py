"""A refusal or notice with one button ("please come during office hours")."""

from __future__ import annotations

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class MessageBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        self.ids.message.text = app.tr(view.message, **view.params)


class MessageScreen(KioskScreen):
    body_class = MessageBody


load_kv(__file__)
