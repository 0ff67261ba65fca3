"""Fingerprint prompt with the progress of the two captures."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Ellipse, Line
from kivy.properties import NumericProperty
from kivy.uix.widget import Widget

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class CaptureDots(Widget):
    """One circle per capture: filled when done, outlined when still to come."""

    done = NumericProperty(0)
    total = NumericProperty(2)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, done=self._draw, total=self._draw)

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        n = max(int(self.total), 1)
        r = min(self.height * 0.4, self.width / (3 * n))
        with self.canvas:
            for i in range(n):
                cx = self.x + self.width * (i + 0.5) / n
                if i < self.done:
                    Color(*ui_theme.OK)
                    Ellipse(pos=(cx - r, self.center_y - r), size=(2 * r, 2 * r))
                else:
                    Color(*ui_theme.SECONDARY)
                    Line(circle=(cx, self.center_y, r), width=max(r / 10, 1.5))


class FingerprintBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        p = view.params
        captures = int(p.get("captures", 1 if p.get("mode") == "verify" else 2))
        capture = int(p.get("capture", 1))
        self.ids.message.text = app.tr(view.message or "fingerprint.place", **p)
        self.ids.count.text = app.tr("fingerprint.capture", capture=capture, captures=captures)
        self.ids.dots.total = captures
        self.ids.dots.done = int(p.get("done", capture - 1))


class FingerprintScreen(KioskScreen):
    body_class = FingerprintBody


load_kv(__file__)
