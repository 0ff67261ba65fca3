"""The full-screen Kivy touchscreen app: renders the current flow View, sends back UserEvents.

The screen always shows the flow's current ``View`` (``flows.view``), never its own idea of the
flow's state. On top of that the app owns three things no flow should: the idle watcher (warning
"还在吗？", then ``UserEvent("timeout")``), the out-of-service switch driven by device
``StatusTracker``s, and the chime/spoken prompt (again on "再听一遍"; never the pickup code:
``kiosk.spoken``). Elder mode (长辈模式) is the app's too: bigger text and targets, fewer words,
one main action, doubled time-outs. "一键呼叫" goes to the host, which alerts staff; the app shows
that help is coming and the centre's phone number. Nothing blocking runs on the Kivy thread: events
go to the host on a worker thread, views come back through ``Clock.schedule_once``, camera frames
are grabbed and resized by ``FrameFeed`` threads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

os.environ.setdefault("KIVY_NO_ARGS", "1")

import numpy as np  # noqa: E402
from kivy.app import App  # noqa: E402
from kivy.clock import Clock  # noqa: E402
from kivy.config import Config  # noqa: E402
from kivy.properties import BooleanProperty, NumericProperty, StringProperty  # noqa: E402
from kivy.uix.boxlayout import BoxLayout  # noqa: E402
from kivy.uix.modalview import ModalView  # noqa: E402
from kivy.uix.screenmanager import NoTransition, ScreenManager  # noqa: E402

from devices.status import StatusChange, StatusTracker  # noqa: E402
from flows.view import Screen, UserEvent, View, ViewPublisher  # noqa: E402
from kiosk import ui_theme  # noqa: E402
from kiosk.fonts import register_chinese_font  # noqa: E402
from kiosk.i18n import Translator  # noqa: E402
from kiosk.speech import Speaker  # noqa: E402
from kiosk.spoken import spoken_text  # noqa: E402
from kiosk.widgets.camera_preview import FrameFeed, FrameSource  # noqa: E402

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
# no inactivity warning: nothing to wipe, or (an open compartment door) the flow watches the door to
# the end with its own countdown and the host ignores the time-out there
NO_TIMEOUT_SCREENS = {Screen.IDLE, Screen.OUT_OF_SERVICE, Screen.DOOR_OPEN}
# which services a device takes down, for the out-of-service screen
DEVICE_SERVICES: dict[str, tuple[str, ...]] = {
    "idcard": ("identity",),
    "face_camera": ("identity",),
    "fingerprint": ("identity",),
    "document_camera": ("deposit",),
    "locker": ("deposit", "pickup"),
    "door_relay": ("deposit", "pickup"),
    "door_reader": ("pickup",),
    "compartments": ("deposit", "pickup"),  # no board answers: no door can open
    "disk": ("deposit",),  # below min_free_mb no new papers are taken; results can still be fetched
    "store": ("all",),  # a database that failed its start-up check serves nobody until restored
}
# what the idle screen's buttons need: still offered on the out-of-service screen while these are up
ACTION_SERVICES: dict[str, tuple[str, ...]] = {"start": ("identity", "deposit"), "pickup": ("pickup",)}
STAFF_SCREENS = {Screen.STAFF_PIN, Screen.STAFF_PICKUPS, Screen.STAFF_COMPARTMENTS, Screen.MAINTENANCE}
# screens between residents: a device going down replaces them with the out-of-service screen
BETWEEN_RESIDENTS = {Screen.IDLE, Screen.OUT_OF_SERVICE}


class FlowHost(Protocol):
    """What the app needs of whatever runs the flows (the real flow runner or ``DemoHost``)."""

    @property
    def publisher(self) -> ViewPublisher: ...

    def send(self, event: UserEvent) -> None:
        """Handle a touch; may block (device I/O): the app calls it from a worker thread."""

    def frame_source(self, camera: str) -> FrameSource | None:
        """A callable giving the newest BGR frame of a camera (called in a worker thread), or None."""


@dataclass(frozen=True)
class UiSettings:
    """The ``[ui]`` settings the app reads from the config (each with a default when missing)."""

    orientation: str = "portrait"
    idle_timeout: float = 90.0  # s without a touch before the session is wiped
    idle_warning: float = 15.0  # s of "还在吗？" countdown before that
    language: str = "zh"
    large_text: bool = False
    speech: bool = True
    preview_fps: float = 15.0
    required_devices: tuple[str, ...] | None = None  # None: every device given to the app
    touch_input: str = ""  # "" = SDL mouse/touch events only; else a Kivy provider spec, e.g. "mtdev,/dev/input/event3"
    screen_diagonal_in: float = ui_theme.DEFAULT_DIAGONAL_IN
    volume: int = 80
    quiet_hours: str = "22:00-07:00"
    quiet_volume: int = 40
    help_phone: str = ""  # [kiosk] help_phone: shown when a resident calls for help


ELDER_TIMEOUT_FACTOR = 2.0
CARD_LEFT_REPEAT_S = 8.0  # the card-left reminder is said again this often while the card lies there


def ui_settings(cfg: Any) -> UiSettings:
    """Read ``cfg.ui`` defensively: the config may not have the section yet."""
    ui = getattr(cfg, "ui", None)
    d = UiSettings()
    required = getattr(ui, "required_devices", None)
    return UiSettings(
        orientation=str(getattr(ui, "orientation", d.orientation)),
        idle_timeout=float(getattr(ui, "idle_timeout", d.idle_timeout)),
        idle_warning=float(getattr(ui, "idle_warning", d.idle_warning)),
        language=str(getattr(ui, "language", d.language)),
        large_text=bool(getattr(ui, "large_text", d.large_text)),
        speech=bool(getattr(ui, "speech", d.speech)),
        preview_fps=float(getattr(ui, "preview_fps", d.preview_fps)),
        required_devices=tuple(required) if required is not None else None,
        touch_input=str(getattr(ui, "touch_input", d.touch_input)),
        screen_diagonal_in=float(getattr(ui, "screen_diagonal_in", d.screen_diagonal_in)),
        volume=int(getattr(ui, "volume", d.volume)),
        quiet_hours=str(getattr(ui, "quiet_hours", d.quiet_hours)),
        quiet_volume=int(getattr(ui, "quiet_volume", d.quiet_volume)),
        help_phone=str(getattr(cfg, "help_phone", d.help_phone) or ""),
    )


def configure_kivy(size: tuple[int, int], *, fullscreen: bool = False, touch_input: str = "") -> None:
    """Window and input settings; must run before the Kivy window is created.

    Kivy's default input section adds hidinput/mtdev providers next to SDL's mouse events, which
    doubles every touch on Linux: keep exactly one provider.
    """
    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "resizable", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "log_level", "warning")
    for option in list(Config.options("input")):
        Config.remove_option("input", option)
    if touch_input:
        Config.set("input", "touch", touch_input)
    else:
        Config.set("input", "mouse", "mouse,disable_multitouch")


class InactivityWatcher:
    """Counts seconds since the last touch or flow change; says when to warn and when to time out."""

    def __init__(self, timeout: float, warning: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = max(timeout, 1.0)
        self.warning = min(max(warning, 0.0), self.timeout)
        self.clock = clock
        self.last = clock()

    def poke(self) -> None:
        self.last = self.clock()

    def seconds_left(self) -> float:
        return self.timeout - (self.clock() - self.last)

    def state(self) -> str:
        """ "ok", "warn" (show the countdown) or "expired" (send timeout)."""
        left = self.seconds_left()
        if left <= 0:
            return "expired"
        return "warn" if left <= self.warning else "ok"


class DeviceWatch:
    """Which required devices are not usable now, from their StatusTrackers."""

    def __init__(
        self,
        trackers: Mapping[str, StatusTracker],
        required: Iterable[str] | None,
        on_change: Callable[[], None],
    ) -> None:
        self.trackers = dict(trackers)
        self.required = tuple(self.trackers) if required is None else tuple(r for r in required if r in self.trackers)
        self._unsubscribe = [self.trackers[name].subscribe(self._changed) for name in self.required]
        self.on_change = on_change
        self._last: tuple[list[dict[str, str]], View | None] = ([], None)

    def _changed(self, change: StatusChange) -> None:
        log.info("device %s: %s → %s %s", change.device, change.old, change.new, change.detail)
        self.on_change()

    def problems(self) -> list[dict[str, str]]:
        out = []
        for name in self.required:
            tracker = self.trackers[name]
            if not tracker.status.usable:
                out.append({"device": name, "status": str(tracker.status), "detail": tracker.detail})
        return out

    def view(self) -> View | None:
        """The out-of-service View; the same object while nothing changed, so the app need not redraw."""
        problems = self.problems()
        if not problems:
            return None
        if problems == self._last[0]:
            return self._last[1]
        services: list[str] = []
        for p in problems:
            for s in DEVICE_SERVICES.get(p["device"], ("all",)):
                if s not in services:
                    services.append(s)
        offered = tuple(
            action
            for action, needs in ACTION_SERVICES.items()
            if "all" not in services and not any(n in services for n in needs)
        )
        view = View(
            Screen.OUT_OF_SERVICE,
            "device_down",
            "oos.device_down",
            {"devices": problems, "services": services},
            offered,  # e.g. results can still be fetched while only the document camera is down
        )
        self._last = (problems, view)
        return view

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()


class EventSender:
    """Sends UserEvents to the host in order on one worker thread (the host may do device I/O)."""

    def __init__(self, host: FlowHost) -> None:
        self.host = host
        self._queue: queue.Queue[UserEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ui-events", daemon=True)
        self._thread.start()

    def send(self, event: UserEvent) -> None:
        self._queue.put(event)

    def close(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self.host.send(event)
            except Exception:  # a flow bug must not take the touchscreen down with it
                log.exception("flow host failed on %s", event.action)


class KioskApp(App):
    """The touchscreen; sizes and fonts are app properties so .kv rules follow large-text mode."""

    touch = NumericProperty(120)
    pad = NumericProperty(28)
    gap = NumericProperty(20)
    font_title = NumericProperty(56)
    font_body = NumericProperty(42)
    font_small = NumericProperty(32)
    font_huge = NumericProperty(96)
    large_text = BooleanProperty(False)  # elder mode (长辈模式); the name stays for the .kv rules
    landscape = BooleanProperty(False)
    language = StringProperty("zh")
    mm_per_px = NumericProperty(0.25)  # on the configured panel: what "15 mm" is in pixels

    def __init__(
        self,
        host: FlowHost,
        settings: UiSettings | None = None,
        devices: Mapping[str, StatusTracker] | None = None,
        speaker: Speaker | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.host = host
        self.settings = settings or UiSettings()
        self.translator = Translator(self.settings.language)
        self.language = self.translator.language
        self.large_text = self.settings.large_text
        self.translator.elder = self.large_text
        self.speaker = speaker or Speaker(
            enabled=self.settings.speech,
            volume=self.settings.volume,
            quiet_hours=self.settings.quiet_hours,
            quiet_volume=self.settings.quiet_volume,
        )
        self.watcher = InactivityWatcher(self.settings.idle_timeout, self.settings.idle_warning)
        self._help: ModalView | None = None
        self._card_left_spoken = 0.0
        self.devices = DeviceWatch(devices or {}, self.settings.required_devices, self._devices_changed)
        self.sender = EventSender(host)
        self.feeds: dict[str, FrameFeed] = {}
        self.shown: View | None = None  # what is on screen now (the flow's view or the app's OOS view)
        self._latest: View = host.publisher.view
        self._flow_screen: Screen | None = None  # the flow's screen at the last render
        self._warning: ModalView | None = None
        self._last_spoken: tuple[str, str] | None = None
        self.title = "kiosk"

    # --- building -------------------------------------------------------------------------
    def build(self) -> ScreenManager:
        from kivy.core.window import Window

        register_chinese_font()
        self._apply_metrics()
        Window.bind(size=lambda *_: self._apply_metrics(), on_touch_down=self._activity)
        Window.clearcolor = ui_theme.BACKGROUND
        from kiosk.screens import SCREENS

        self.sm = ScreenManager(transition=NoTransition())
        for screen, cls in SCREENS.items():
            self.sm.add_widget(cls(name=screen.value))
        self._unsubscribe = self.host.publisher.subscribe(self._on_view)
        Clock.schedule_interval(self._watch, 0.25)
        self._render()
        self._start_systemd_notify()
        return self.sm

    def _start_systemd_notify(self) -> None:
        """READY=1 once the first screen is drawn; WATCHDOG=1 from the Kivy loop itself.

        The ping is scheduled on the UI clock, not in a thread, so a UI that stops drawing also stops
        pinging and systemd restarts it (kiosk.service: WatchdogSec, NotifyAccess=all under cage).
        """
        from kiosk.sdnotify import Notifier, watchdog_interval

        self.notifier = Notifier()
        if not self.notifier.enabled:
            return
        # a stand-in host (kiosk.start_failure) names why it serves nobody: `systemctl status` shows it
        status = getattr(self.host, "systemd_status", "")
        Clock.schedule_once(
            lambda _dt: self.notifier.ready(status or f"showing {self.shown.screen if self.shown else '?'}"), 0
        )
        interval = watchdog_interval()
        if interval:
            Clock.schedule_interval(lambda _dt: self.notifier.watchdog(), interval)

    def _apply_metrics(self) -> None:
        from kivy.core.window import Window

        w, h = Window.size
        m = ui_theme.metrics(w, h, self.large_text, self.settings.screen_diagonal_in)
        self.mm_per_px = m.mm_per_px
        self.landscape = w > h
        self.touch, self.pad, self.gap = m.touch, m.padding, m.spacing
        self.font_title, self.font_body, self.font_small, self.font_huge = (
            m.font_title,
            m.font_body,
            m.font_small,
            m.font_huge,
        )

    # --- for the screens (UiContext) ---------------------------------------------------------
    def tr(self, key: str, **params: Any) -> str:
        return self.translator(key, **params)

    def send(self, action: str, data: dict[str, Any] | None = None) -> None:
        self.watcher.poke()
        self.sender.send(UserEvent(action, dict(data or {})))

    def feed(self, camera: str) -> FrameFeed | None:
        feed = self.feeds.get(camera)
        if feed is None:
            source = getattr(self.host, "frame_source", lambda _c: None)(camera)
            if source is None:
                return None
            feed = self.feeds[camera] = FrameFeed(source, fps=self.settings.preview_fps, name=camera)
        return feed.start()

    def release_feed(self, camera: str) -> None:
        feed = self.feeds.get(camera)
        if feed is not None:
            feed.stop()

    def _reset_for_next_resident(self) -> None:
        """Back at idle: the next resident starts in the configured language and text size."""
        if self.translator.language != self.settings.language:
            self.translator.language = self.settings.language
            self.language = self.translator.language
        if self.large_text != self.settings.large_text:
            self._set_elder(self.settings.large_text)
        self._close_help()

    def toggle_language(self) -> None:
        self.watcher.poke()
        self.translator.language = self.translator.toggled()
        self.language = self.translator.language
        self._render(speak=False, force=True)

    def toggle_large_text(self) -> None:
        """Elder mode on or off (the header's 长辈模式 / 标准模式 button)."""
        self.watcher.poke()
        self._set_elder(not self.large_text)
        self._render(speak=False, force=True)

    def _set_elder(self, on: bool) -> None:
        """Bigger text and targets, fewer words, one main action, every time-out doubled."""
        self.large_text = on
        self.translator.elder = on
        factor = ELDER_TIMEOUT_FACTOR if on else 1.0
        self.watcher.timeout = max(self.settings.idle_timeout * factor, 1.0)
        self.watcher.warning = min(self.settings.idle_warning * factor, self.watcher.timeout)
        set_elder = getattr(self.host, "set_elder", None)
        if set_elder is not None:
            set_elder(on)
        self._apply_metrics()

    # --- voice and help ------------------------------------------------------------------------
    def spoken(self, view: View) -> str:
        """What is said for a View (never the pickup code; codes digit by digit)."""
        if view.step == "card_left":
            return self.tr("card_left.spoken")
        return spoken_text(self.tr, view.message, view.params, self.language)

    def replay(self) -> None:
        """再听一遍: say the current step's prompt again."""
        self.watcher.poke()
        view = self.shown
        if view is not None:
            self.speaker.say(self.spoken(view), self.language, chime=False, loud=view.step == "card_left")

    def set_volume(self, volume: int) -> int:
        """Staff's volume from maintenance mode; a short prompt at the new volume to hear it."""
        value = self.speaker.set_volume(volume)
        self.speaker.say(self.tr("volume.title", volume=value), self.language, chime=True)
        return value

    def call_help(self) -> None:
        """一键呼叫: the host alerts staff (worker thread); the screen says so at once, with the phone."""
        self.watcher.poke()
        self.sender.send(UserEvent("help"))
        self._show_help()

    def _show_help(self) -> None:
        from kiosk.screens.base import Para
        from kiosk.widgets import BigButton

        self._close_help()
        modal = ModalView(auto_dismiss=False, size_hint=(0.9, None))
        box = BoxLayout(orientation="vertical", padding=self.pad, spacing=self.gap, size_hint_y=None)
        box.bind(minimum_height=box.setter("height"))
        lines = [Para(text=self.tr("help.called"), kind="title", color=ui_theme.TEXT_ON_DARK)]
        if self.settings.help_phone:
            phone = self.settings.help_phone.replace(" ", "\u00a0")  # a number is not broken across lines
            lines.append(Para(text=self.tr("help.phone", phone=phone), kind="title",
                              color=ui_theme.TEXT_ON_DARK))
        button = BigButton(text=self.tr("help.ok"))
        button.bind(on_release=lambda *_: self._close_help())
        for w in (*lines, button):
            box.add_widget(w)
        modal.add_widget(box)
        box.bind(height=lambda _b, h: setattr(modal, "height", h))
        modal.background_color = ui_theme.HEADER
        modal.background = ""
        self._help = modal
        modal.open()
        self.speaker.say(self.tr("help.called"), self.language, chime=True)

    def _close_help(self) -> None:
        if self._help is not None:
            self._help.dismiss()
            self._help = None

    @property
    def help_shown(self) -> bool:
        return self._help is not None

    # --- views ------------------------------------------------------------------------------
    def _on_view(self, view: View) -> None:
        """Called by the publisher in the flow's thread: hand over to the Kivy thread."""
        self._latest = view
        Clock.schedule_once(lambda _dt: self._render(), 0)

    def _devices_changed(self) -> None:
        Clock.schedule_once(lambda _dt: self._render(), 0)

    def current_view(self) -> View:
        """The flow's view, or, between residents, the out-of-service view while a needed device is down.

        A resident in the middle of a step keeps the flow's screen (a receipt with its pickup code,
        an open door): the flow itself meets the device's error and ends with its own message, and
        the out-of-service screen comes when the kiosk is back at idle. Staff screens always stay.
        """
        view = self._latest
        if view.screen in BETWEEN_RESIDENTS:
            oos = self.devices.view()
            if oos is not None:
                return oos
        return view

    def _render(self, speak: bool = True, force: bool = False) -> None:
        view = self.current_view()
        if view is self.shown and not force:
            return  # e.g. a device went busy and back: nothing to redraw
        if view is not self.shown:
            self.watcher.poke()  # the flow moved on: that is activity too
        flow_screen = self._latest.screen  # the flow's own screen, even under the out-of-service one
        if flow_screen is Screen.IDLE and self._flow_screen not in (None, Screen.IDLE):
            self._reset_for_next_resident()
        self._flow_screen = flow_screen
        if view.screen in STAFF_SCREENS and self.large_text:
            self._set_elder(False)  # staff work in the standard mode
        self.shown = view
        screen = self.sm.get_screen(view.screen.value)
        screen.show(view, self)
        if self.sm.current != view.screen.value:
            self.sm.current = view.screen.value
        if view.screen in NO_TIMEOUT_SCREENS:
            self._close_warning()
        if speak and view.message and (view.screen.value, view.message) != self._last_spoken:
            self._last_spoken = (view.screen.value, view.message)
            loud = view.step == "card_left"
            self._card_left_spoken = time.monotonic()
            self.speaker.say(self.spoken(view), self.language, loud=loud)

    # --- idle timeout ------------------------------------------------------------------------
    def _activity(self, *_: Any) -> None:
        self.watcher.poke()

    def _watch(self, _dt: float) -> None:
        view = self.shown
        loud_due = time.monotonic() - self._card_left_spoken > CARD_LEFT_REPEAT_S
        if view is not None and view.step == "card_left" and loud_due:  # loud: said again and again
            self._card_left_spoken = time.monotonic()
            self.speaker.say(self.spoken(view), self.language, loud=True)
        if view is None or view.screen in NO_TIMEOUT_SCREENS or view.busy:
            self.watcher.poke()
            self._close_warning()
            return
        state = self.watcher.state()
        if state == "ok":
            self._close_warning()
        elif state == "warn":
            self._show_warning(self.watcher.seconds_left())
        else:
            self._close_warning()
            self.watcher.poke()
            log.info("idle timeout on %s/%s", view.screen, view.step)
            self.sender.send(UserEvent("timeout", {"screen": view.screen.value, "step": view.step}))

    def _show_warning(self, seconds: float) -> None:
        from kiosk.screens.base import Para
        from kiosk.widgets import BigButton

        if self._warning is None:
            modal = ModalView(auto_dismiss=False, size_hint=(0.85, None))
            box = BoxLayout(orientation="vertical", padding=self.pad, spacing=self.gap, size_hint_y=None)
            box.bind(minimum_height=box.setter("height"))
            modal.title_label = Para(text=self.tr("app.still_there"), kind="huge", color=ui_theme.TEXT_ON_DARK)
            modal.detail_label = Para(color=ui_theme.TEXT_ON_DARK)
            button = BigButton(text=self.tr("app.continue"))
            button.bind(on_release=lambda *_: self._continue())
            for w in (modal.title_label, modal.detail_label, button):
                box.add_widget(w)
            modal.add_widget(box)
            box.bind(height=lambda _b, h: setattr(modal, "height", h))
            self._warning = modal
            modal.open()
        modal = self._warning
        modal.detail_label.text = self.tr("app.still_there_detail", seconds=max(0, int(seconds + 0.99)))

    def _close_warning(self) -> None:
        if self._warning is not None:
            self._warning.dismiss()
            self._warning = None

    def _continue(self) -> None:
        self.watcher.poke()
        self._close_warning()

    @property
    def warning_shown(self) -> bool:
        return self._warning is not None

    def on_stop(self) -> None:
        notifier = getattr(self, "notifier", None)
        if notifier is not None:
            notifier.stopping()
        for feed in self.feeds.values():
            feed.stop()
        self.sender.close()
        self.speaker.close()
        self.devices.close()


# --- demo host ----------------------------------------------------------------------------
DEMO_SEQUENCE = (
    Screen.IDLE,
    Screen.GUIDE,
    Screen.CARD_PROMPT,
    Screen.IDENTITY,
    Screen.FACE,
    Screen.FINGERPRINT,
    Screen.DOCUMENTS,
    Screen.COMPARTMENT_SIZE,
    Screen.DOOR_OPEN,
    Screen.RECEIPT,
    Screen.CODE_ENTRY,
    Screen.RESULT_PICKUP,
    Screen.MESSAGE,
    Screen.STAFF_PIN,
    Screen.STAFF_PICKUPS,
    Screen.STAFF_COMPARTMENTS,
    Screen.MAINTENANCE,
    Screen.OUT_OF_SERVICE,
)


def _card_photo() -> np.ndarray:
    import cv2

    from kiosk.widgets.images import placeholder_photo

    path = ROOT / "assets" / "sim" / "idcard" / "obama_1.png"
    image = cv2.imread(str(path)) if path.exists() else None
    return image if image is not None else placeholder_photo()


def _thumbnail(n: int) -> np.ndarray:
    import cv2

    page = np.full((170, 120, 3), 255, np.uint8)
    cv2.rectangle(page, (0, 0), (119, 169), (180, 180, 180), 2)
    cv2.putText(page, f"p.{n}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (40, 40, 40), 2)
    for i in range(8):
        cv2.line(page, (12, 50 + 14 * i), (105 - (i % 3) * 15, 50 + 14 * i), (90, 90, 90), 2)
    return page


def _demo_guide() -> dict[str, Any]:
    """The guide screen's params as the deposit flow publishes them, from the real service guide."""
    from flows.guide import load_guide

    guide = load_guide()
    services = guide.summaries()
    return {
        "categories": {c.id: {"zh": c.name_zh, "en": c.name_en} for c in guide.categories.values()},
        "services": services,
        "selected": services[0]["id"] if services else None,
    }


def demo_views(now: float | None = None) -> dict[Screen, View]:
    """A realistic hand-made View for every screen (masked data only), for demos and screenshots."""
    now = time.monotonic() if now is None else now
    services = [
        {"id": "residence_certificate", "papers": ["paper.application_form", "paper.hukou_book", "paper.lease"]},
        {"id": "social_security", "papers": ["paper.application_form"]},
        {"id": "pickup", "papers": []},
    ]
    devices = [
        {"device": "idcard", "status": "online", "detail": "SAM 05.01-20260518-0000123456"},
        {"device": "fingerprint", "status": "online", "detail": "capacity 300, 12 templates"},
        {"device": "locker", "status": "online", "detail": "2 boards, 48 locks"},
        {"device": "face_camera", "status": "online", "detail": "640×480 MJPG"},
        {"device": "document_camera", "status": "hardware_error", "detail": "no frames for 5 s"},
        {"device": "staff_reader", "status": "online", "detail": "ACS ACR122U"},
    ]
    compartments = [
        {"id": f"{c}{i:02d}", "state": s}
        for (c, i), s in zip(
            [(c, i) for c in "AB" for i in range(1, 7)],
            [
                "free",
                "occupied",
                "free",
                "disabled",
                "occupied",
                "free",
                "free",
                "open",
                "free",
                "free",
                "occupied",
                "free",
            ],
            strict=True,
        )
    ]
    v = [
        View(Screen.IDLE, "attract", "idle.welcome", {"services": [s["id"] for s in services]}, ("start", "pickup")),
        View(Screen.CARD_PROMPT, "wait_card", "card.insert", {}, ("cancel",), deadline=now + 60),
        View(
            Screen.IDENTITY,
            "confirm",
            "identity.confirm",
            {"name": "张*丰", "id_number": "4401************3X", "photo": _card_photo()},
            ("confirm", "not_me", "cancel"),
        ),
        View(
            Screen.FACE,
            "liveness",
            "face.move_closer",
            {"camera": "face_camera", "face_box": [0.38, 0.3, 0.24, 0.36]},
            ("cancel",),
            progress=0.35,
        ),
        View(
            Screen.FINGERPRINT,
            "fingerprint",
            "fingerprint.place_first",
            {"mode": "enroll", "capture": 2, "captures": 2, "done": 1},
            ("cancel",),
            progress=0.5,
            busy=True,
        ),
        View(Screen.GUIDE, "guide", "guide.choose", _demo_guide(), ("choose", "cancel")),
        View(
            Screen.DOCUMENTS,
            "capture",
            "documents.place_page",
            {
                "camera": "document_camera",
                "paper": "paper.hukou_book",
                "page_quad": [[0.27, 0.05], [0.78, 0.1], [0.75, 0.95], [0.2, 0.9]],
                "thumbnails": [_thumbnail(i) for i in (1, 2, 3)],
            },
            ("retake", "add_page", "next", "cancel"),
        ),
        View(
            Screen.COMPARTMENT_SIZE,
            "choose",
            "compartment.choose",
            {"free": {"small": 4, "medium": 2, "large": 0}},
            ("small", "medium", "cancel"),
        ),
        View(Screen.DOOR_OPEN, "deposit", "door.put_papers", {"compartment": "A07"}, (), deadline=now + 90),
        View(
            Screen.RECEIPT,
            "done",
            "receipt.done",
            {
                "case_code": "K7QF2M9X",
                "pickup_code": "284615",
                "compartment": "A07",
                "days": 5,
                "service_zh": "社会保障卡补领",
                "service_en": "Social security card replacement",
                "qr_payload": "KIOSK-CASE:K7QF2M9X",
                "deferred_papers": [
                    {"name_zh": "一寸彩色照片", "name_en": "Recent 1-inch colour photo"}
                ],
                "printing": False,
                "printed": True,
            },
            ("done",),
            deadline=now + 30,
        ),
        View(Screen.STAFF_PIN, "pin", "staff.enter_pin", {"length": 6}, ("pin", "cancel")),
        View(
            Screen.STAFF_PICKUPS,
            "list",
            "staff.pickups",
            {
                "staff": "演示工作人员",
                "pending": [
                    {"compartment": "A02", "case_code": "H3KD8QWE", "name_masked": "李*", "committed_at": "05-12"},
                    {
                        "compartment": "A05",
                        "case_code": "M9TZ2PLA",
                        "name_masked": "张*丰",
                        "committed_at": "05-14 16:40",
                        "opened": True,
                    },
                    {"compartment": "B05", "case_code": "Q4RS7XYN", "name_masked": "欧阳*", "committed_at": "05-17"},
                ],
                "results_due": [{"case_code": "B8NW3KDE", "name_masked": "王*"}],
            },
            ("open", "open_all", "collected", "result", "done", "cancel"),
        ),
        View(
            Screen.STAFF_COMPARTMENTS,
            "controls",
            "staff.compartments",
            {
                "compartments": compartments,
                "selected": "A04",
                "reasons": ["door_stuck", "cleaning", "resident_request"],
                "reason": "door_stuck",
            },
            ("select", "reason", "open", "enable", "back"),
        ),
        View(Screen.RESULT_PICKUP, "choose", "results.choose_method", {}, ("card", "code", "cancel")),
        View(Screen.CODE_ENTRY, "code", "results.enter_code", {"length": 6}, ("code", "cancel")),
        View(Screen.PHONE_ENTRY, "phone", "phone.enter", {"length": 11}, ("phone", "skip", "cancel")),
        View(Screen.RATING, "rating", "rating.ask",
             {"levels": [{"id": lv} for lv in ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied",
                                               "very_dissatisfied")]},
             ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied", "skip")),
        View(Screen.MESSAGE, "refused", "message.office_hours", {"hours": "08:30–17:30"}, ("ok",)),
        View(
            Screen.OUT_OF_SERVICE,
            "device_down",
            "oos.device_down",
            {
                "devices": [{"device": "idcard", "status": "offline", "detail": "no answer on /dev/ttyUSB0"}],
                "services": ["identity"],
            },
        ),
        View(
            Screen.MAINTENANCE, "status", "maintenance.mode", {"devices": devices}, ("test_devices", "open_all", "exit")
        ),
    ]
    return {view.screen: _demo_step(view) for view in v}


def _demo_step(view: View) -> View:
    """The step bar the real host would add to this screen (a deposit, or a result pickup)."""
    import dataclasses

    from kiosk.visit_steps import DEPOSIT_STEPS, PICKUP_STEPS

    deposit = {Screen.CARD_PROMPT: 0, Screen.IDENTITY: 0, Screen.FACE: 1, Screen.FINGERPRINT: 2, Screen.GUIDE: 3,
               Screen.DOCUMENTS: 4, Screen.PHONE_ENTRY: 4, Screen.COMPARTMENT_SIZE: 5, Screen.DOOR_OPEN: 5,
               Screen.RECEIPT: 6, Screen.RATING: 6}
    pickup = {Screen.RESULT_PICKUP: 0, Screen.CODE_ENTRY: 1}
    if view.screen in deposit:
        return dataclasses.replace(view, visit_steps=DEPOSIT_STEPS, visit_step=deposit[view.screen])
    if view.screen in pickup:
        return dataclasses.replace(view, visit_steps=PICKUP_STEPS, visit_step=pickup[view.screen])
    return view


class DemoHost:
    """A stand-in flow host: publishes the demo View of each screen; any button goes to the next one.

    Used by ``kiosk app`` until the flows exist, by the screenshot tests and by the benchmark.
    ``events`` records every UserEvent the app sent.
    """

    def __init__(self, start: Screen = Screen.IDLE) -> None:
        self.views = demo_views()
        self.publisher = ViewPublisher(self.views[start])
        self.events: list[UserEvent] = []
        self._frames: dict[str, list[np.ndarray]] = {}
        self._lock = threading.Lock()
        self.elder = False

    def set_elder(self, on: bool) -> None:
        self.elder = on

    def show(self, screen: Screen, **changes: Any) -> View:
        """Publish the demo view of ``screen`` (with some fields replaced, e.g. deadline=…)."""
        import dataclasses

        view = dataclasses.replace(self.views[screen], **changes)
        self.publisher.publish(view)
        return view

    def send(self, event: UserEvent) -> None:
        self.events.append(event)
        if event.action == "help":  # the real host alerts staff; the demo only records the press
            return
        current = self.publisher.view.screen
        if event.action in ("timeout", "cancel", "exit", "finish"):
            self.show(Screen.IDLE)
        elif event.action in ("select", "reason"):
            key = "service" if event.action == "select" and "service" in event.data else None
            params = dict(self.publisher.view.params)
            if key:
                params["selected"] = event.data[key]
            elif "compartment" in event.data:
                params["selected"] = event.data["compartment"]
            elif "reason" in event.data:
                params["reason"] = event.data["reason"]
            import dataclasses

            self.publisher.publish(dataclasses.replace(self.publisher.view, params=params))
        else:
            nxt = DEMO_SEQUENCE[(DEMO_SEQUENCE.index(current) + 1) % len(DEMO_SEQUENCE)]
            self.show(nxt, deadline=None if self.views[nxt].deadline is None else time.monotonic() + 60)

    def frame_source(self, camera: str) -> FrameSource | None:
        """Synthetic camera frames from the camera simulator's scenes, with a little motion."""
        counter = [0]

        def grab() -> np.ndarray:
            frames = self._scene(camera)
            counter[0] += 1
            frame = frames[0]
            shift = int(6 * np.sin(counter[0] / 8))
            return np.roll(frame, shift, axis=1)

        return grab

    def _scene(self, camera: str) -> list[np.ndarray]:
        with self._lock:
            if camera not in self._frames:
                from devices.camera.scenes import build_scene

                name = "document" if "document" in camera else "card_holder"
                size = (1296, 972) if name == "document" else (640, 480)
                self._frames[camera] = build_scene(name, size)
            return self._frames[camera]


def _stop_on_sigterm(app: App) -> None:
    """SIGTERM (systemd stopping the unit, `make run` stopping what it started) closes the app in order.

    SDL turns SIGTERM into a quit event with some video drivers only (offscreen does, X11 does not):
    without this handler the app died at once under X, its devices, database and workers left to the
    kernel and no STOPPING=1 sent. The handler runs on the main thread; the UI clock does the stop.
    """
    import signal

    signal.signal(signal.SIGTERM, lambda _signum, _frame: Clock.schedule_once(lambda _dt: app.stop(), 0))


def run_app(
    cfg: Any,
    *,
    fullscreen: bool,
    orientation: str | None,
    host: FlowHost | None = None,
    devices: Mapping[str, StatusTracker] | None = None,
    demo: bool = False,
) -> int:
    """Run the touchscreen until it is closed.

    Without a ``host`` the real kiosk runs (``kiosk.runtime.KioskRuntime``: devices, store,
    lockers, flows); ``demo`` shows the hand-made DemoHost views instead (screenshots, UI work).
    """
    settings = ui_settings(cfg)
    if orientation:
        settings = UiSettings(**{**settings.__dict__, "orientation": orientation})
    runtime = None
    failed = None  # kiosk.start_failure.StartFailureHost when the runtime refused to start
    if host is None and not demo:
        from kiosk.host import attach_runtime_services
        from kiosk.runtime import KioskRuntime
        from kiosk.start_failure import EXPECTED_START_ERRORS, StartFailureHost

        try:
            runtime = KioskRuntime(cfg).start()
        except EXPECTED_START_ERRORS as exc:  # out of service on screen, not a crash loop (see the module)
            host = failed = StartFailureHost.for_config(cfg, exc)
        else:
            host = attach_runtime_services(runtime.host, runtime, cfg.name)
            devices = runtime.trackers()
            if settings.required_devices is None:
                settings = UiSettings(**{**settings.__dict__, "required_devices": runtime.required_devices()})
    try:
        configure_kivy(
            ui_theme.window_size(settings.orientation), fullscreen=fullscreen, touch_input=settings.touch_input
        )
        app = KioskApp(host or DemoHost(), settings, devices=devices)
        _stop_on_sigterm(app)
        if failed is not None:
            failed.on_recovered = lambda: Clock.schedule_once(lambda _dt: app.stop(), 0)
            Clock.schedule_once(lambda _dt: failed.start(), 0)  # after build(): the app sees every View it publishes
        app.run()
    except KeyboardInterrupt:  # Ctrl-C in the terminal of `make run`: close everything below
        log.info("interrupted")
    finally:
        if runtime is not None:
            runtime.close()
        if failed is not None:
            failed.stop()
    if failed is not None and failed.recovered:
        from kiosk.start_failure import RESTART_EXIT_CODE

        return RESTART_EXIT_CODE  # systemd (Restart=always) starts the normal app
    return 0
