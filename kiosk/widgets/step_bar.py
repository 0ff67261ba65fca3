"""The step bar: the visit's steps as numbered dots, done ones green, the current one ringed.

Why numbers and short words: a resident who cannot read every word still counts "3 of 7"; the
word under each dot ("录指纹") says what that step is. In elder mode the words under the dots give
way to one line naming the current step ("第 3 步，共 7 步：录指纹"): bigger dots, fewer words.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label

from kiosk import ui_theme


class StepDot(Label):
    """One numbered circle; ``state`` is done / current / todo."""

    def __init__(self, number: int, state: str, **kwargs: Any) -> None:
        super().__init__(text=str(number), halign="center", valign="middle", bold=state == "current", **kwargs)
        self.state = state
        self.color = ui_theme.TEXT if state == "todo" else ui_theme.TEXT_ON_DARK
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_: Any) -> None:
        self.canvas.before.clear()
        r = min(self.width, self.height) / 2
        fill = {"done": ui_theme.OK, "current": ui_theme.PRIMARY}.get(self.state, ui_theme.STEP_TODO)
        with self.canvas.before:
            Color(*fill)
            Ellipse(pos=(self.center_x - r, self.center_y - r), size=(2 * r, 2 * r))
            if self.state == "current":
                Color(*ui_theme.HIGHLIGHT)
                Line(circle=(self.center_x, self.center_y, r + max(2.0, r * 0.12)), width=max(1.5, r * 0.1))


class StepBar(BoxLayout):
    """Shows ``steps`` (already translated words) with ``current`` marked; empty hides the bar."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("size_hint_y", None)
        super().__init__(**kwargs)
        self.dots = BoxLayout(orientation="horizontal")
        self.words = BoxLayout(orientation="horizontal", size_hint_y=None)
        self.summary = Label(size_hint_y=None, halign="center", valign="middle", color=ui_theme.TEXT)
        self.summary.bind(size=lambda w, s: setattr(w, "text_size", (s[0], None)))
        self._key: tuple[Any, ...] = ()
        with self.canvas.before:
            Color(*ui_theme.BACKGROUND)
            self._bg = Rectangle()
        self.bind(pos=self._paint, size=self._paint)
        self.height = 0
        self.opacity = 0

    def _paint(self, *_: Any) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size

    def show(self, words: list[str], current: int, summary: str, elder: bool) -> None:
        app = App.get_running_app()
        key = (tuple(words), current, summary, elder, app.touch, app.font_small)
        if key == self._key:
            return
        self._key = key
        self.clear_widgets()
        self.dots.clear_widgets()
        self.words.clear_widgets()
        if not words:
            self.height, self.opacity = 0, 0
            return
        self.opacity = 1
        dot = app.touch * (0.5 if elder else 0.45)
        self.dots.size_hint_y = None
        self.dots.height = dot + 6
        self.spacing = app.gap * 0.3
        self.padding = (app.pad, app.gap * 0.4, app.pad, 0)
        font = app.font_small * (0.9 if elder else 0.8)
        for i, word in enumerate(words):
            state = "done" if i < current else "current" if i == current else "todo"
            holder = AnchorLayout(anchor_x="center", anchor_y="center")
            holder.add_widget(StepDot(i + 1, state, size_hint=(None, None), size=(dot, dot), font_size=dot * 0.5))
            self.dots.add_widget(holder)
            if not elder:
                label = Label(text=word, font_size=font, halign="center", valign="top", bold=i == current,
                              color=ui_theme.PRIMARY if i == current else ui_theme.MUTED)
                label.bind(size=lambda w, s: setattr(w, "text_size", s))
                self.words.add_widget(label)
        self.add_widget(self.dots)
        if elder and summary:
            self.summary.text = summary
            self.summary.font_size = font
            self.summary.color = ui_theme.PRIMARY
            self.summary.height = font * 1.5
            self.add_widget(self.summary)
            self.height = self.dots.height + self.summary.height + self.spacing + app.gap * 0.4
        else:
            self.words.height = font * 1.4 if not elder else 0
            if not elder:
                self.add_widget(self.words)
            self.height = self.dots.height + self.words.height + self.spacing + app.gap * 0.4

