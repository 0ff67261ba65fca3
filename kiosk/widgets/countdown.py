"""Countdown text for a View's deadline and a busy spinner; both animate on the Kivy clock only."""

from __future__ import annotations

import math
import time

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Line
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk import ui_theme


class Countdown(Label):
    """Shows "剩余 N 秒" until ``deadline`` (a time.monotonic() value; 0 = none)."""

    deadline = NumericProperty(0.0)
    seconds = NumericProperty(0)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.color = ui_theme.WARNING_TEXT
        self._event = Clock.schedule_interval(self._tick, 0.25)
        self.bind(deadline=self._tick)

    def _tick(self, *_: object) -> None:
        if not self.deadline:
            self.text = ""
            return
        self.seconds = max(0, math.ceil(self.deadline - time.monotonic()))
        app = App.get_running_app()
        tr = getattr(app, "tr", None)
        self.text = tr("app.seconds_left", seconds=self.seconds) if tr else f"{self.seconds}"


class BusySpinner(Widget):
    """A turning arc while ``active``: the kiosk is working, the buttons stay."""

    active = BooleanProperty(False)
    angle = NumericProperty(0)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._event = Clock.schedule_interval(self._turn, 1 / 15)
        self.bind(pos=self._draw, size=self._draw, active=self._draw)

    def _turn(self, dt: float) -> None:
        if self.active:
            self.angle = (self.angle + 360 * dt) % 360
            self._draw()

    def _draw(self, *_: object) -> None:
        self.canvas.clear()
        if not self.active:
            return
        r = max(min(self.width, self.height) / 2 - 4, 2)
        with self.canvas:
            Color(*ui_theme.PRIMARY)
            Line(circle=(self.center_x, self.center_y, r, self.angle, self.angle + 270), width=max(r / 8, 1.5))
