"""On-screen number pad: the only way to enter a code (the kiosk has no keyboard and no free text)."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label

from kiosk import ui_theme
from kiosk.widgets.buttons import BigButton


class NumberPad(BoxLayout):
    """Digits 0–9 with delete and clear, a display line above; ``value`` holds what was typed.

    The typed digits are input, not flow state: they go to the flow in one
    ``UserEvent("submit", {"code": value})`` when the resident presses the submit button.
    """

    value = StringProperty("")
    max_length = NumericProperty(8)
    masked = BooleanProperty(False)

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("orientation", "vertical")
        super().__init__(**kwargs)
        app = App.get_running_app()
        self.spacing = app.gap
        self.display = Label(size_hint_y=None, color=ui_theme.TEXT)
        self.add_widget(self.display)
        self.grid = GridLayout(cols=3, spacing=app.gap, size_hint_y=None)
        self.grid.bind(minimum_height=self.grid.setter("height"))
        tr = app.tr
        self.delete_button = BigButton(text=tr("action.delete"), role="secondary")
        self.clear_button = BigButton(text=tr("action.clear"), role="secondary")
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
        for key in keys:
            self.grid.add_widget(self._digit(key))
        self.grid.add_widget(self.clear_button)
        self.grid.add_widget(self._digit("0"))
        self.grid.add_widget(self.delete_button)
        self.delete_button.bind(on_release=lambda *_: self.press("delete"))
        self.clear_button.bind(on_release=lambda *_: self.press("clear"))
        self.add_widget(self.grid)
        self._font()
        self.bind(value=self._show, masked=self._show)
        app.bind(font_title=self._font, touch=self._font)
        self.bind(minimum_height=self.setter("height"))
        self.size_hint_y = None
        self._show()

    def _digit(self, key: str) -> BigButton:
        button = BigButton(text=key)
        button.bind(on_release=lambda *_: self.press(key))
        return button

    def _font(self, *_: object) -> None:
        app = App.get_running_app()
        self.display.font_size = app.font_title * 1.2
        self.display.height = max(app.touch, self.display.font_size * 1.3)

    def relabel(self) -> None:
        tr = App.get_running_app().tr
        self.delete_button.text = tr("action.delete")
        self.clear_button.text = tr("action.clear")

    def press(self, key: str) -> None:
        if key == "delete":
            self.value = self.value[:-1]
        elif key == "clear":
            self.value = ""
        elif key.isdigit() and len(self.value) < self.max_length:
            self.value += key

    def _show(self, *_: object) -> None:
        shown = "●" * len(self.value) if self.masked else self.value
        self.display.text = shown or "–" * int(self.max_length)
