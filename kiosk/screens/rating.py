"""好差评 at the end of a visit: five large buttons, each a drawn face and its word (非常满意 … 非常
不满意); for 不满意 / 非常不满意 the reasons as large toggles. Skip is always there and the step times
out by itself (the flow's time-out), so nobody is held at the kiosk by a rating."""

from __future__ import annotations

from typing import Any, ClassVar

from kivy.app import App
from kivy.graphics import Color, Ellipse, Line
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

from flows.resident_steps import LEVEL_ACTIONS, LEVELS
from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets.buttons import BigButton

# mouth curve per level: 5 a broad smile … 1 a deep frown
_MOUTH = {"rating_5": 0.5, "rating_4": 0.3, "rating_3": 0.0, "rating_2": -0.3, "rating_1": -0.5}


class RatingFace(Widget):
    """A simple drawn face: the picture beside each level's word (no image files to ship)."""

    def __init__(self, picture: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.picture = picture
        self.bind(pos=self._draw, size=self._draw)

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        d = min(self.width, self.height) * 0.9
        x, y = self.center_x - d / 2, self.center_y - d / 2
        curve = _MOUTH.get(self.picture, 0.0)
        with self.canvas:
            Color(*ui_theme.TEXT)
            Line(ellipse=(x, y, d, d), width=max(1.5, d / 30))
            Ellipse(pos=(x + d * 0.28, y + d * 0.6), size=(d * 0.1, d * 0.1))
            Ellipse(pos=(x + d * 0.62, y + d * 0.6), size=(d * 0.1, d * 0.1))
            mid = y + d * (0.32 if curve >= 0 else 0.22)
            Line(bezier=(x + d * 0.28, mid + d * 0.1 * (1 if curve > 0 else 0) - d * curve * 0.0,
                         self.center_x, mid - d * curve * 0.3,
                         x + d * 0.72, mid + d * 0.1 * (1 if curve > 0 else 0)), width=max(1.5, d / 30))


class RatingBody(ScreenBody):
    custom_actions: ClassVar[tuple[str, ...]] = (*LEVEL_ACTIONS, "reasons")
    action_labels: ClassVar[dict[str, str]] = {"skip": "rating.skip"}

    def show(self, view: View, app: UiContext) -> None:
        self._app = app
        self.ids.message.text = app.tr(view.message or "rating.ask")
        choices = self.ids.choices
        choices.clear_widgets()
        if "reasons" in view.actions:
            self._show_reasons(view, app)
            return
        app_ = App.get_running_app()
        landscape = bool(getattr(app_, "landscape", False))
        gap, touch = getattr(app_, "gap", 8), getattr(app_, "touch", 60)
        # Portrait: one row per level, the face beside the word. Landscape: five columns, face above.
        choices.cols = len(LEVELS) if landscape else 1
        for level, _zh, _en, picture in LEVELS:
            if level not in view.actions:
                continue
            button = BigButton(text=app.tr(f"rating.{level}"))
            button.bind(on_release=lambda _b, lv=level: app.send(lv, {}))
            face = RatingFace(picture, size_hint=(None, None), size=(touch, touch))
            cell = BoxLayout(orientation="vertical" if landscape else "horizontal", size_hint_y=None, spacing=gap)
            if landscape:
                face.pos_hint = {"center_x": 0.5}
                cell.add_widget(face)
                cell.add_widget(button)
                button.bind(height=lambda b, h, c=cell: setattr(c, "height", h + touch + gap))
                cell.height = button.height + touch + gap
            else:
                cell.add_widget(face)
                cell.add_widget(button)
                button.bind(height=lambda b, h, c=cell, f=face: (setattr(c, "height", h),
                                                                 setattr(f, "size", (h, h))))
                cell.height = button.height
                face.size = (button.height, button.height)
            choices.add_widget(cell)

    def _show_reasons(self, view: View, app: UiContext) -> None:
        choices = self.ids.choices
        choices.cols = 2 if getattr(App.get_running_app(), "landscape", False) else 1
        self._toggles: list[tuple[str, ToggleButton]] = []
        touch = getattr(App.get_running_app(), "touch", 60)
        for reason in view.params.get("reasons", []):
            t = ToggleButton(text=app.tr(f"rating.reason_{reason}"), size_hint_y=None, height=touch,
                             font_size=getattr(App.get_running_app(), "font_body", 24),
                             color=ui_theme.TEXT, background_normal="", background_color=(0.93, 0.95, 0.97, 1),
                             background_down="")
            t.bind(state=lambda b, s: setattr(b, "background_color", (0.75, 0.87, 1, 1) if s == "down"
                                              else (0.93, 0.95, 0.97, 1)))
            self._toggles.append((reason, t))
            choices.add_widget(t)
        send = BigButton(text=app.tr("rating.send"))
        send.bind(on_release=lambda *_: app.send("reasons", self.action_data("reasons")))
        choices.add_widget(send)

    def action_data(self, action: str) -> dict[str, Any]:
        if action != "reasons":
            return {}
        return {"reasons": [r for r, t in getattr(self, "_toggles", []) if t.state == "down"], "note": ""}


class RatingScreen(KioskScreen):
    body_class = RatingBody


load_kv(__file__)
