"""Card prompt: an animation of the ID card going onto the kiosk's reader (ringed), with the instruction."""

from __future__ import annotations

from typing import Any

from kivy.animation import Animation
from kivy.graphics import Color, Line, RoundedRectangle
from kivy.properties import NumericProperty
from kivy.uix.widget import Widget

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class CardAnimation(Widget):
    """A drawn reader with a card sliding down onto it; ``phase`` runs 0→1 in a loop."""

    phase = NumericProperty(0.0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, phase=self._draw)
        self._anim: Animation | None = None

    def start(self) -> None:
        if self._anim is None:
            slide = Animation(phase=1.0, d=1.4, transition="out_quad")
            self._anim = slide + Animation(phase=1.0, d=0.8) + Animation(phase=0.0, d=0)
            self._anim.repeat = True
            self._anim.start(self)

    def stop(self) -> None:
        if self._anim is not None:
            self._anim.cancel(self)
            self._anim = None

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        w = min(self.width * 0.6, self.height * 0.9)
        reader_h = w * 0.35
        rx, ry = self.center_x - w / 2, self.y + self.height * 0.05
        card_w, card_h = w * 0.8, w * 0.8 * 54 / 85.6  # ID-1 card proportions
        top = self.y + self.height - card_h
        cy = top + (ry + reader_h * 0.4 - top) * self.phase
        with self.canvas:
            Color(*ui_theme.KIOSK_BODY)  # the kiosk's front, the reader in it ringed in amber
            RoundedRectangle(pos=(rx - w * 0.15, self.y), size=(w * 1.3, reader_h * 1.6), radius=[w * 0.04])
            Color(*ui_theme.HIGHLIGHT)
            Line(rounded_rectangle=(rx - w * 0.04, ry - w * 0.04, w * 1.08, reader_h + w * 0.08, w * 0.05),
                 width=max(2.0, w * 0.012))
            Color(*ui_theme.KIOSK_DARK)
            RoundedRectangle(pos=(rx, ry), size=(w, reader_h), radius=[w * 0.04])
            Color(*ui_theme.OUTLINE)
            Line(rounded_rectangle=(rx + w * 0.1, ry + reader_h * 0.25, w * 0.8, reader_h * 0.5, 8), width=2)
            Color(0.75, 0.85, 0.95, 1)
            RoundedRectangle(pos=(self.center_x - card_w / 2, cy), size=(card_w, card_h), radius=[card_w * 0.05])
            Color(0.55, 0.65, 0.78, 1)
            RoundedRectangle(
                pos=(self.center_x + card_w * 0.12, cy + card_h * 0.18), size=(card_w * 0.28, card_h * 0.62)
            )
            for i in range(3):
                RoundedRectangle(
                    pos=(self.center_x - card_w * 0.4, cy + card_h * (0.65 - 0.18 * i)),
                    size=(card_w * 0.45, card_h * 0.08),
                )


class CardPromptBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        self.ids.message.text = app.tr(view.message or "card.insert", **view.params)

    def entering(self, app: UiContext) -> None:
        self.ids.animation.start()

    def leaving(self, app: UiContext) -> None:
        self.ids.animation.stop()


class CardPromptScreen(KioskScreen):
    body_class = CardPromptBody


load_kv(__file__)
