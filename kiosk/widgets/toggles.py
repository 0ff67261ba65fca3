"""The language and large-text buttons every screen carries in its header."""

from __future__ import annotations

from kivy.app import App

from kiosk.widgets.buttons import BigButton


class LanguageToggle(BigButton):
    """Switches 中文 ⇄ English; the label names the language you get."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("role", "secondary")
        kwargs.setdefault("font_kind", "small")
        super().__init__(**kwargs)
        self.bind(on_release=lambda *_: App.get_running_app().toggle_language())


class LargeTextToggle(BigButton):
    """Large text for elderly residents; the label names the mode you get."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("role", "secondary")
        kwargs.setdefault("font_kind", "small")
        super().__init__(**kwargs)
        self.bind(on_release=lambda *_: App.get_running_app().toggle_large_text())
