"""Service guide: choose a service; the papers it needs are listed before anything is scanned.

The flow's View carries the whole guide (``categories`` and ``services`` with their papers, both
languages). Browsing it — which category is open, which service is highlighted — is the
resident's input on this screen, not flow state, so it stays here until "choose" sends the
highlighted service (``{"service_id": …}``). With few services the category step is skipped.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets import BigButton

FLAT_LIMIT = 6  # up to this many services: one list, no categories


def local_name(item: dict[str, Any], app: UiContext, key: str = "name") -> str:
    """The resident's language first, then the other one (guide texts come in both)."""
    lang = getattr(app, "language", "zh")
    other = "en" if lang == "zh" else "zh"
    return str(item.get(f"{key}_{lang}") or item.get(f"{key}_{other}") or item.get(lang) or item.get("id", ""))


class GuideBody(ScreenBody):
    custom_actions = ("select",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._category: str | None = None
        self._selected: str | None = None
        self._view: View | None = None

    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        if self._view is None or self._view.step != view.step:
            self._selected = p.get("selected")
            self._category = None
        self._view = view
        ids.message.text = app.tr(view.message or "guide.choose")
        ids.choices.clear_widgets()
        chosen_button: BigButton | None = None
        services: list[dict[str, Any]] = [s for s in p.get("services", []) if isinstance(s, dict)]
        categories: dict[str, Any] = dict(p.get("categories", {}))
        enabled = bool({"choose", "select"} & set(view.actions))
        if self._selected and self._category is None:
            self._category = next((s.get("category") for s in services if s.get("id") == self._selected), None)
        if categories and len(services) > FLAT_LIMIT and self._category is None:
            for cid, names in categories.items():
                count = sum(1 for s in services if s.get("category") == cid)
                if not count:
                    continue
                text = f"{local_name(names, app)} ({count})"
                button = BigButton(text=text, role="choice")
                button.disabled = not enabled
                button.bind(on_release=lambda _b, c=cid: self._open_category(c, app))
                ids.choices.add_widget(button)
        else:
            shown = [s for s in services if self._category is None or s.get("category") == self._category]
            if self._category is not None and len(services) > FLAT_LIMIT:
                back = BigButton(text=app.tr("guide.all_categories"), role="secondary")
                back.bind(on_release=lambda _b: self._open_category(None, app))
                ids.choices.add_widget(back)
            for service in shown:
                sid = str(service.get("id"))
                label = local_name(service, app) if "name_zh" in service else app.tr(f"service.{sid}")
                button = BigButton(text=label, role="choice", selected=sid == self._selected)
                if sid == self._selected:
                    chosen_button = button
                button.disabled = not enabled
                button.bind(on_release=lambda _b, s=sid: self._select(s, app))
                ids.choices.add_widget(button)
        # the list was rebuilt: a scroll position kept from the old list can show nothing at all
        Clock.schedule_once(lambda _dt, b=chosen_button: self._reveal(b), 0.05)  # after the new layout
        chosen = next((s for s in services if s.get("id") == self._selected), None)
        papers = [] if chosen is None else list(chosen.get("papers", []))
        ids.papers_title.text = app.tr("guide.papers") if papers else app.tr("guide.pick_one")
        ids.guide_text.text = "" if chosen is None else local_name(chosen, app, "guide")
        ids.papers.text = "\n".join(f"• {self._paper(k, app)}" for k in papers)

    def _reveal(self, button: BigButton | None) -> None:
        """Show the chosen service in its list (else the top of the list)."""
        scroll = self.ids.choices_scroll
        if button is not None and button.parent is self.ids.choices:
            scroll.scroll_to(button, padding=10, animate=False)
        else:
            scroll.scroll_y = 1

    @staticmethod
    def _paper(paper: Any, app: UiContext) -> str:
        if isinstance(paper, dict):
            name = local_name(paper, app)
            return name + (f" ({app.tr('guide.deferrable')})" if paper.get("deferrable") else "")
        return app.tr(str(paper))

    def _open_category(self, category: str | None, app: UiContext) -> None:
        self._category = category
        if self._view is not None:
            self.show(self._view, app)

    def _select(self, service: str, app: UiContext) -> None:
        if self._view is not None and "select" in self._view.actions:
            app.send("select", {"service": service})  # the demo host keeps the selection itself
            return
        self._selected = service
        if self._view is not None:
            self.show(self._view, app)

    def action_data(self, action: str) -> dict[str, Any]:
        return {"service_id": self._selected} if action == "choose" and self._selected else {}

    def leaving(self, app: UiContext) -> None:
        self._view = None
        self._selected = None
        self._category = None


class GuideScreen(KioskScreen):
    body_class = GuideBody


load_kv(__file__)
