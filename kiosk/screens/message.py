"""A refusal or notice with one button ("please come during office hours")."""

from __future__ import annotations

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv

# messages that end a visit with the ID card possibly still on the reader: show where it lies
CARD_PICTURE = {"card_left.title": "card_left.detail", "results.thank_you": ""}


class MessageBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.message.text = app.tr(view.message, **view.params)
        loud = view.message == "card_left.title"
        ids.message.color = ui_theme.HELP if loud else ui_theme.TEXT
        ids.message.kind = "huge" if loud else "title"  # the card-left reminder is loud on screen too
        ids.message.scale = 0.85 if loud else 1.2  # (one line at the largest text size)
        detail = CARD_PICTURE.get(view.message)
        ids.detail.text = app.tr(detail) if detail else ""
        picture = view.message in CARD_PICTURE
        ids.picture.opacity = 1 if picture else 0
        ids.picture.size_hint_y = 1 if picture else None
        if not picture:
            ids.picture.height = 0


class MessageScreen(KioskScreen):
    body_class = MessageBody


load_kv(__file__)
