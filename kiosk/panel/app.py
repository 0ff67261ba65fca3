"""The simulator panel: a second Kivy window (own process) with buttons for every running simulator.

Socket calls run in a worker thread; their answers come back to the Kivy thread with
``Clock.schedule_once``, so a slow or dead simulator never freezes the panel.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")

from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.button import Button  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.scrollview import ScrollView  # noqa: E402
from kivy.uix.spinner import Spinner  # noqa: E402
from kivy.uix.stacklayout import StackLayout  # noqa: E402

from kiosk.fonts import register_chinese_font  # noqa: E402
from kiosk.panel.control import HELP, PanelButton, PanelControl  # noqa: E402

ROW = 56  # px; the panel is a developer's desktop window, not the kiosk touchscreen


def _label(text: str, **kwargs: Any) -> Label:
    label = Label(text=text, size_hint_y=None, height=ROW * 0.7, halign="left", valign="middle", **kwargs)
    label.bind(size=lambda w, s: setattr(w, "text_size", s))
    return label


class PanelApp(App):
    def __init__(self, control: PanelControl, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.control = control
        self.title = "kiosk simulator panel"
        self.log: list[str] = []

    def build(self) -> BoxLayout:
        register_chinese_font()  # card holders' names and the help line are Chinese
        root = BoxLayout(orientation="vertical", padding=8, spacing=6)
        top = BoxLayout(size_hint_y=None, height=ROW, spacing=6)
        top.add_widget(_label(f"control socket: {self.control.path}"))
        refresh = Button(text="refresh", size_hint_x=None, width=160)
        refresh.bind(on_release=lambda *_: self.refresh())
        top.add_widget(refresh)
        root.add_widget(top)
        help_label = _label(HELP, color=(0.7, 0.9, 1, 1))
        help_label.height = ROW * 1.8
        root.add_widget(help_label)
        self.sections = BoxLayout(orientation="vertical", size_hint_y=None, spacing=4)
        self.sections.bind(minimum_height=self.sections.setter("height"))
        scroll = ScrollView(do_scroll_x=False)
        scroll.add_widget(self.sections)
        root.add_widget(scroll)
        self.status = _label("…", color=(1, 1, 0.6, 1))
        self.status.height = ROW * 1.2
        root.add_widget(self.status)
        self.refresh()
        return root

    def _background(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        def run() -> None:
            result = work()
            Clock.schedule_once(lambda _dt: done(result), 0)

        threading.Thread(target=run, name="panel-call", daemon=True).start()

    def refresh(self) -> None:
        self.show_line("asking the simulators what they can do…")

        def work() -> Any:
            ok, devices = self.control.devices()
            if not ok:
                return ok, devices
            return ok, {name: self.control.buttons(name, actions) for name, actions in sorted(devices.items())}

        self._background(work, self._build_sections)

    def _build_sections(self, answer: tuple[bool, Any]) -> None:
        ok, result = answer
        self.sections.clear_widgets()
        if not ok:
            self.show_line(f"ERROR {result}")
            return
        for device, buttons in result.items():
            self.sections.add_widget(_label(f"[b]{device}[/b]", markup=True, font_size=20))
            stack = StackLayout(size_hint_y=None, spacing=4)
            stack.bind(minimum_height=stack.setter("height"))
            for button in buttons:
                stack.add_widget(self._button(button))
            self.sections.add_widget(stack)
            if any(b.action == "state" for b in buttons) and device == "locker":
                self.sections.add_widget(self._locker_row(device))
        self.show_line(f"{len(result)} simulators" if result else "no simulator is running")

    def _button(self, spec: PanelButton) -> Button:
        button = Button(text=spec.label, size_hint=(None, None), height=ROW, width=max(120, 14 * len(spec.label) + 24))
        button.bind(on_release=lambda *_: self.press(spec))
        return button

    def _locker_row(self, device: str) -> BoxLayout:
        if self.control.compartments:
            return self._compartment_row(device)
        row = BoxLayout(size_hint_y=None, height=ROW, spacing=4)
        board = Spinner(text="board 0", values=[f"board {i}" for i in range(4)], size_hint_x=None, width=140)
        lock = Spinner(text="lock 1", values=[f"lock {i}" for i in range(1, 49)], size_hint_x=None, width=140)
        row.add_widget(board)
        row.add_widget(lock)
        for label in ("resident opens door", "close door", "jam", "unjam"):

            def press(_b: Any, label: str = label) -> None:
                specs = self.control.lock_buttons(device, int(board.text.split()[1]), int(lock.text.split()[1]))
                self.press(next(s for s in specs if s.label == label))

            button = Button(text=label)
            button.bind(on_release=press)
            row.add_widget(button)
        return row

    def _compartment_row(self, device: str) -> BoxLayout:
        """A compartment picked by the id on its door (from the configuration), and its door buttons."""
        row = BoxLayout(size_hint_y=None, height=ROW, spacing=4)
        ids = [c[0] for c in self.control.compartments]
        which = Spinner(text=ids[0], values=ids, size_hint_x=None, width=140)
        row.add_widget(which)
        for label in ("resident opens door", "close door", "jam", "unjam"):

            def press(_b: Any, label: str = label) -> None:
                specs = self.control.compartment_buttons(device, which.text)
                self.press(next(s for s in specs if s.label == label))

            button = Button(text=label)
            button.bind(on_release=press)
            row.add_widget(button)
        return row

    def press(self, spec: PanelButton) -> None:
        self.show_line(f"{spec.device} {spec.action} …")
        self._background(lambda: self.control.press(spec), self.show_line)

    def show_line(self, line: str) -> None:
        self.log.append(line)
        self.status.text = line
