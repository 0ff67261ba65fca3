"""Big touch buttons: never smaller than the 15 mm touch target the theme computes."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.button import Button

from kiosk import ui_theme


class BigButton(Button):
    """A flat, high-contrast button at least ``app.touch`` px high with wrapping text."""

    role = StringProperty("primary")  # primary / secondary / danger / choice / help / other
    selected = BooleanProperty(False)
    bg = ListProperty(ui_theme.PRIMARY)
    scale = NumericProperty(1.0)  # height in touch targets (>= 1)
    font_kind = StringProperty("body")  # which themed font size: body / small / title

    def __init__(self, **kwargs: object) -> None:
        app = App.get_running_app()
        kwargs.setdefault("size_hint_y", None)
        super().__init__(**kwargs)
        self.background_normal = ""
        self.background_down = ""
        self.halign = "center"
        self.valign = "middle"
        self.bind(role=self._colour, selected=self._colour, disabled=self._colour, size=self._wrap)
        self._colour()
        if app is not None and hasattr(app, "touch"):
            app.bind(touch=self._size, font_body=self._size, font_small=self._size)
            self.bind(scale=self._size, texture_size=self._size, font_kind=self._size)
            self._size()

    def _size(self, *_: object) -> None:
        app = App.get_running_app()
        # at least the touch target; taller when large text wraps onto more lines
        self.height = max(app.touch * max(1.0, self.scale), self.texture_size[1] + app.touch * 0.25)
        self.font_size = getattr(app, f"font_{self.font_kind}", app.font_body)

    def _wrap(self, *_: object) -> None:
        self.text_size = (max(self.width - 16, 1), None)

    def _colour(self, *_: object) -> None:
        base = {
            "primary": ui_theme.PRIMARY,
            "secondary": ui_theme.SECONDARY,
            "danger": ui_theme.DANGER,
            "choice": ui_theme.SECONDARY,
            "help": ui_theme.HELP,
            "other": ui_theme.OTHER,
        }.get(self.role, ui_theme.PRIMARY)
        if self.selected:
            base = ui_theme.OK
        if self.disabled:
            base = ui_theme.DISABLED
        self.background_color = base
        self.color = ui_theme.HEADER if self.role == "other" and not self.selected else ui_theme.TEXT_ON_DARK
        self.disabled_color = ui_theme.DISABLED_TEXT
