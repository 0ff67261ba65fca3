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
        ids.services.text = "\n".join(f"• {self._name(s, app)}" for s in services)

    @staticmethod
    def _name(service: object, app: UiContext) -> str:
        if isinstance(service, dict):
            lang = getattr(app, "language", "zh")
            return str(service.get(f"name_{lang}") or service.get("name_zh") or service.get("id", ""))
        return app.tr(f"service.{service}")


class IdleScreen(KioskScreen):
    body_class = IdleBody


load_kv(__file__)
