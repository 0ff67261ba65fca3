"""Attract/idle screen: welcome and the service guide; the only screen without an idle timeout."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kivy.clock import Clock

from flows.door_schedule import staffed_resume_from_periods
from flows.view import View
from kiosk import __version__
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


def staffed_resume_text(view: View, app: UiContext, now: dt.datetime) -> str:
    """"Staff are back Mon 8 Dec, 08:30" while the centre is closed; "" while staff are in."""
    when = staffed_resume_from_periods(view.params.get("after_hours", ()), now)
    if when is None:
        return ""
    weekdays = app.tr("idle.weekdays").split()
    weekday = weekdays[when.weekday()] if len(weekdays) == 7 else ""
    date = app.tr("idle.resume_date", month=when.month, day=when.day, weekday=weekday, time=when.strftime("%H:%M"))
    return app.tr("idle.staffed_resume", when=date)


class IdleBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.welcome.text = app.tr(view.message or "idle.welcome")
        ids.hint.text = app.tr("idle.touch_to_start")
        elder = bool(getattr(app, "large_text", False))  # elder mode: fewer words, the two buttons say it
        ids.services_title.text = "" if elder else app.tr("idle.services_title")
        services = [] if elder else view.params.get("services", [])
        ids.services.text = "\n".join(f"• {self._name(s, app)}" for s in services)
        ids.version.text = f"v{__version__}"
        self._shown = (view, app)
        self._update_staffed()

    _shown: tuple[View, UiContext] | None = None
    _clock: Any = None

    def _update_staffed(self, *_args: Any) -> None:
        if self._shown is not None:
            self.ids.staffed.text = staffed_resume_text(*self._shown, dt.datetime.now())

    def entering(self, app: UiContext) -> None:
        # the idle screen can stay up for hours: the line follows the clock (after hours begin, staff arrive)
        if self._clock is None:
            self._clock = Clock.schedule_interval(self._update_staffed, 30)

    def leaving(self, app: UiContext) -> None:
        if self._clock is not None:
            self._clock.cancel()
            self._clock = None

    @staticmethod
    def _name(service: object, app: UiContext) -> str:
        if isinstance(service, dict):
            lang = getattr(app, "language", "zh")
            return str(service.get(f"name_{lang}") or service.get("name_zh") or service.get("id", ""))
        return app.tr(f"service.{service}")


class IdleScreen(KioskScreen):
    body_class = IdleBody


load_kv(__file__)
