"""Attract/idle screen: welcome and the service guide; the only screen without an idle timeout."""

from __future__ import annotations

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class IdleBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.welcome.text = app.tr(view.message or "idle.welcome")
        ids.hint.text = app.tr("idle.touch_to_start")
        ids.services_title.text = app.tr("idle.services_title")
        services = view.params.get("services", [])
        ids.services.text = "\n".join(f"• {app.tr(f'service.{s}')}" for s in services)


class IdleScreen(KioskScreen):
    body_class = IdleBody


load_kv(__file__)
