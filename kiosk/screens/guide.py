"""Service guide: choose a service; the papers it needs are listed before anything is scanned."""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets import BigButton


class GuideBody(ScreenBody):
    custom_actions = ("select",)

    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        ids.message.text = app.tr(view.message or "guide.choose")
        ids.choices.clear_widgets()
        selected = p.get("selected")
        services: list[dict[str, Any]] = list(p.get("services", []))
        for service in services:
            sid = str(service.get("id"))
            button = BigButton(text=app.tr(f"service.{sid}"), role="choice", selected=sid == selected)
            button.disabled = "select" not in view.actions
            button.bind(on_release=lambda _b, s=sid: app.send("select", {"service": s}))
            ids.choices.add_widget(button)
        papers = next((s.get("papers", []) for s in services if s.get("id") == selected), [])
        ids.papers_title.text = app.tr("guide.papers") if papers else ""
        ids.papers.text = "\n".join(f"• {app.tr(k)}" for k in papers)


class GuideScreen(KioskScreen):
    body_class = GuideBody


load_kv(__file__)
