"""What every screen shares: header (title, elder mode, language), the step bar, body,
progress/countdown, actions, and on resident screens the help bar ("再听一遍", "一键呼叫").

A screen renders exactly the ``View`` it is given: ``KioskScreen.show(view, app)`` fills the chrome
and hands the view to the screen's body (one ``.py`` + one ``.kv`` per screen). The View's
``actions`` become the buttons; a body that draws some actions itself (a number pad's submit, a
size choice) lists them in ``custom_actions``.

In elder mode a screen has one main action: the first action that is not a way out (cancel, back,
not me) gets a row of its own at full width; the others follow below as secondary buttons.
Staff screens (badge + PIN) carry neither the step bar nor the help bar: those are for residents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from kivy.app import App
from kivy.factory import Factory
from kivy.graphics import Color, Rectangle
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.progressbar import ProgressBar
from kivy.uix.screenmanager import Screen

from flows.view import View
from kiosk import ui_theme
from kiosk.widgets import BigButton, BusySpinner, Countdown, LanguageToggle, LargeTextToggle, StepBar

SECONDARY_ACTIONS = {"cancel", "back", "not_me", "exit", "skip"}
# which action is "the" main one in elder mode, best first (else the first that is not a way out)
MAIN_ACTIONS = ("confirm", "capture", "next", "choose", "done", "ok", "start", "card", "code", "submit", "retry")
STAFF_SCREENS = {"staff_pin", "staff_pickups", "staff_compartments", "maintenance"}


class UiContext(Protocol):
    """What screens need of the app (kept small so bodies stay testable)."""

    large_text: bool
    landscape: bool

    def tr(self, key: str, **params: Any) -> str: ...

    def send(self, action: str, data: dict[str, Any] | None = None) -> None: ...

    def feed(self, camera: str) -> Any: ...


class Para(Label):
    """A wrapping paragraph whose height follows its text; ``kind`` picks the themed font size."""

    kind = StringProperty("body")
    scale = NumericProperty(1.0)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        kwargs.setdefault("color", ui_theme.TEXT)
        super().__init__(**kwargs)
        app = App.get_running_app()
        self.bind(width=self._wrap, texture_size=self._fit, kind=self._font, scale=self._font)
        app.bind(font_body=self._font, font_title=self._font, font_small=self._font, font_huge=self._font)
        self._font()
        self._wrap()

    def _font(self, *_: Any) -> None:
        app = App.get_running_app()
        self.font_size = getattr(app, f"font_{self.kind}", app.font_body) * self.scale

    def _wrap(self, *_: Any) -> None:
        self.text_size = (max(self.width, 1), None)

    def _fit(self, *_: Any) -> None:
        self.height = self.texture_size[1]


def fitted_label(text: str, font: float, color: tuple[float, ...], base_height: float, halign: str = "center") -> Label:
    """A table cell: wraps to its column width and grows taller than ``base_height`` when it must."""
    label = Label(text=text, font_size=font, color=color, size_hint_y=None, halign=halign, valign="middle")
    label.height = base_height
    label.bind(width=lambda w, width: setattr(w, "text_size", (width, None)))
    label.bind(texture_size=lambda w, s: setattr(w, "height", max(base_height, s[1] + font * 0.4)))
    return label


if "Para" not in Factory.classes:
    Factory.register("Para", cls=Para)


class ScreenBody(BoxLayout):
    """The screen-specific part; subclasses fill their kv ids in ``show``."""

    custom_actions: ClassVar[tuple[str, ...]] = ()
    #: translation keys of action buttons whose flow action name reads wrong as a label here
    #: (the code pad's "code" action is its submit button, not "enter a pickup code")
    action_labels: ClassVar[dict[str, str]] = {}

    def show(self, view: View, app: UiContext) -> None:
        raise NotImplementedError

    def action_data(self, action: str) -> dict[str, Any]:
        """Data sent with an action button (e.g. the typed code with "submit")."""
        return {}

    def entering(self, app: UiContext) -> None:
        """The screen becomes current (start previews)."""

    def leaving(self, app: UiContext) -> None:
        """The screen stops being current (stop previews, forget typed digits)."""


class KioskScreen(Screen):
    body_class: ClassVar[type[ScreenBody]] = ScreenBody
    kv_file: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        app = App.get_running_app()
        with self.canvas.before:
            Color(*ui_theme.BACKGROUND)
            self._bg = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._paint, size=self._paint)
        self.root_box = BoxLayout(orientation="vertical")
        self.header = BoxLayout(size_hint_y=None)
        with self.header.canvas.before:
            Color(*ui_theme.HEADER)
            self._header_bg = Rectangle()
        self.header.bind(pos=self._paint, size=self._paint)
        self.title = Label(color=ui_theme.TEXT_ON_DARK, halign="left", valign="middle", shorten=False)
        self.title.bind(size=lambda w, s: setattr(w, "text_size", s))
        self.large = LargeTextToggle(size_hint_x=None)
        self.lang = LanguageToggle(size_hint_x=None)
        for w in (self.title, self.large, self.lang):
            self.header.add_widget(w)
        self.resident = self.name not in STAFF_SCREENS
        self.step_bar = StepBar()
        self.content = BoxLayout(orientation="vertical")
        self.body = self.body_class()
        self.status = BoxLayout(size_hint_y=None, height=0)
        self.progress = ProgressBar(max=1.0)
        self.spinner = BusySpinner(size_hint_x=None)
        self.countdown = Countdown(size_hint_x=None)
        self.main_action = BoxLayout(size_hint_y=None, height=0)  # elder mode: the one main action
        self.actions = GridLayout(size_hint_y=None)
        self.actions.bind(minimum_height=self.actions.setter("height"))
        self.content.add_widget(self.body)
        self.content.add_widget(self.status)
        self.content.add_widget(self.actions)
        self.help_bar = BoxLayout(size_hint_y=None, height=0)
        self.replay = BigButton(role="secondary", font_kind="small")
        self.help = BigButton(role="help", font_kind="small")
        self.replay.bind(on_release=lambda *_: App.get_running_app().replay())
        self.help.bind(on_release=lambda *_: App.get_running_app().call_help())
        self.root_box.add_widget(self.header)
        self.root_box.add_widget(self.step_bar)
        self.root_box.add_widget(self.content)
        self._help_in_header: bool | None = None
        self.add_widget(self.root_box)
        self._status_parts: tuple[bool, bool, bool] = (False, False, False)
        self._actions_key: tuple[Any, ...] = ()  # what the action buttons were built for
        app.bind(touch=self.restyle, font_small=self.restyle, landscape=self.restyle)
        self.restyle()

    def _paint(self, *_: Any) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size
        self._header_bg.pos, self._header_bg.size = self.header.pos, self.header.size

    def restyle(self, *_: Any) -> None:
        app = App.get_running_app()
        pad, gap = app.pad, app.gap
        self.header.height = app.touch + 2 * pad * 0.5
        self.header.padding = (pad, pad * 0.5)
        self.header.spacing = gap
        self.title.font_size = app.font_small
        toggle_w = app.touch * (2.0 if app.large_text else 2.2)
        self.large.width = self.lang.width = toggle_w
        self.content.padding = pad
        self.content.spacing = gap
        self.body.spacing = gap
        self.actions.spacing = gap
        self.status.spacing = gap
        self.spinner.width = app.touch * 0.6
        self.countdown.width = app.touch * 3
        self.countdown.font_size = app.font_body
        self.help_bar.spacing = gap
        self._place_help(bool(app.landscape))
        self.help_bar.height = app.touch if self.resident and not app.landscape else 0
        if self.resident and (self.help_bar.parent is None) == (not app.landscape):
            if app.landscape:
                self.content.remove_widget(self.help_bar)
            else:
                self.content.add_widget(self.help_bar, index=0)
        self.replay.size_hint_x = self.help.size_hint_x = None if app.landscape else 1
        self.replay.width = self.help.width = toggle_w

    def _place_help(self, in_header: bool) -> None:
        """Portrait: "再听一遍" and "一键呼叫" in a bar at the bottom; landscape: in the header (height is short)."""
        if not self.resident or in_header == self._help_in_header:
            return
        self._help_in_header = in_header
        for button in (self.replay, self.help):
            if button.parent is not None:
                button.parent.remove_widget(button)
        if in_header:
            index = len(self.header.children) - 1  # right after the title
            self.header.add_widget(self.help, index=index)
            self.header.add_widget(self.replay, index=index)
        else:
            self.help_bar.add_widget(self.replay)
            self.help_bar.add_widget(self.help)

    def show(self, view: View, app: UiContext) -> None:
        tr = app.tr
        self.title.text = "" if app.large_text and not app.landscape else tr("app.title")  # elder: fewer words
        self.lang.text = tr("app.language")
        self.large.text = tr("chrome.standard_mode" if app.large_text else "chrome.elder_mode")
        self.large.selected = app.large_text
        if self.resident:
            self.replay.text = tr("chrome.replay")
            self.help.text = tr("chrome.help")
            words = [tr(f"steps.{key}") for key in view.visit_steps]
            current = view.visit_step
            summary = ""
            if words and 0 <= current < len(words):
                summary = tr("chrome.step", n=current + 1, total=len(words), step=words[current])
            elder = bool(app.large_text)
            if app.landscape:  # a short screen: the header's title names the step instead of a bar
                self.title.text = summary or self.title.text
                words, summary = [], ""
            elif elder:  # the header's free room names the step (one line: the dots show the total)
                self.title.text = tr("chrome.step_now", n=current + 1, step=words[current]) if summary else ""
                summary = ""
            self.step_bar.show(words, current, summary, elder)
        self.body.show(view, app)
        self._show_status(view)
        self._show_actions(view, app)

    def _show_status(self, view: View) -> None:
        app = App.get_running_app()
        parts = (view.progress is not None, view.busy, view.deadline is not None)
        if parts != self._status_parts:
            self.status.clear_widgets()
            if parts[0]:
                self.status.add_widget(self.progress)
            if parts[1]:
                self.status.add_widget(self.spinner)
            if parts[2]:
                self.status.add_widget(self.countdown)
            self._status_parts = parts
        self.status.height = app.touch * 0.6 if any(parts) else 0
        self.progress.value = view.progress or 0.0
        self.spinner.active = view.busy
        self.countdown.deadline = view.deadline or 0.0

    def _show_actions(self, view: View, app: UiContext) -> None:
        """Rebuild the buttons only when they change: progress views arrive many times a second
        (the face check, the page outline), and a button replaced under a finger loses the tap."""
        shown = [a for a in view.actions if a not in self.body.custom_actions]
        labels = [app.tr(self.body.action_labels.get(action, f"action.{action}")) for action in shown]
        key = (tuple(shown), tuple(labels), app.landscape, app.large_text)
        if key == self._actions_key:
            return
        self._actions_key = key
        self.actions.clear_widgets()
        self.main_action.clear_widgets()
        self.main_action.height = 0
        buttons = list(zip(shown, labels, strict=True))
        if app.large_text and self.resident and not app.landscape:  # landscape: one row, the others grey
            ranked = sorted(buttons, key=lambda b: MAIN_ACTIONS.index(b[0]) if b[0] in MAIN_ACTIONS else 99)
            main = next((b for b in ranked if b[0] not in SECONDARY_ACTIONS), None)
            if main is not None:
                buttons.remove(main)
                button = self._button(*main, app)
                button.bind(height=self.main_action.setter("height"))
                self.main_action.add_widget(button)
                self.main_action.height = button.height
        if (self.main_action.parent is None) != (not self.main_action.children):
            if self.main_action.children:  # present only when used: an empty row still costs a gap
                self.content.add_widget(self.main_action, index=list(self.content.children).index(self.actions) + 1)
            else:
                self.content.remove_widget(self.main_action)
        per_row = 4 if app.landscape else 3
        if app.large_text and self.resident:
            per_row = 3
        self.actions.cols = max(1, min(len(buttons), per_row))
        for action, label in buttons:
            button = self._button(action, label, app)
            if self.main_action.children and action not in SECONDARY_ACTIONS:  # the main action is above
                button.role = "other"
            self.actions.add_widget(button)

    def _button(self, action: str, label: str, app: UiContext) -> BigButton:
        button = BigButton(text=label)
        button.role = "secondary" if action in SECONDARY_ACTIONS else "primary"
        button.bind(on_release=lambda _b, a=action: app.send(a, self.body.action_data(a)))
        return button

    def on_enter(self, *_: Any) -> None:
        self.body.entering(App.get_running_app())

    def on_leave(self, *_: Any) -> None:
        self.body.leaving(App.get_running_app())


def load_kv(py_file: str) -> None:
    """Load the ``.kv`` next to a screen's ``.py`` once."""
    path = str(Path(py_file).with_suffix(".kv"))
    if path not in Builder.files:
        Builder.load_file(path)
