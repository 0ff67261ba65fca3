"""Document capture: live preview with the found page outlined, thumbnails, retake / add page."""

from __future__ import annotations

from typing import Any

import numpy as np
from kivy.uix.image import Image

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets.images import texture_from_bgr


class DocumentsBody(ScreenBody):
    """The live outline arrives as a new View a few times a second; only what changed is redone."""

    camera = "document_camera"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._thumbs: list[np.ndarray] = []  # the pictures shown now

    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        paper = app.tr(str(p.get("paper", ""))) if p.get("paper") else ""
        lang = getattr(app, "language", "zh")
        for item in p.get("checklist", []):
            if isinstance(item, dict) and item.get("id") == p.get("current"):
                paper = str(item.get(f"name_{lang}") or item.get("name_zh") or paper)
        ids.message.text = app.tr(view.message or "documents.place_page", **{**p, "paper": paper})
        ids.good.text = app.tr("picture.good")
        ids.bad.text = app.tr("picture.bad")
        done = [c for c in p.get("checklist", []) if isinstance(c, dict) and c.get("status") in ("scanned", "deferred")]
        total = len(p.get("checklist", []))
        ids.preview.page_quad = [list(c) for c in p.get("page_quad") or []]
        thumbs = [t for t in p.get("thumbnails", []) if isinstance(t, np.ndarray)]
        pages = int(p.get("pages", len(thumbs)))
        ids.count.text = app.tr("documents.pages", count=pages, paper=paper)
        if total:
            ids.count.text += "  " + app.tr("documents.papers_done", done=len(done), total=total)
        shown = thumbs[-6:]
        if [id(t) for t in shown] != [id(t) for t in self._thumbs]:  # outline updates leave them alone
            self._thumbs = shown  # held, so the ids compared stay theirs
            ids.thumbs.clear_widgets()
            for thumb in shown:
                ids.thumbs.add_widget(Image(texture=texture_from_bgr(thumb), fit_mode="contain"))
        self.camera = str(p.get("camera", "document_camera"))
        if ids.preview.feed is None:
            ids.preview.attach(app.feed(self.camera))

    def leaving(self, app: UiContext) -> None:
        self._thumbs = []
        self.ids.thumbs.clear_widgets()
        self.ids.preview.detach()
        app.release_feed(self.camera)


class DocumentsScreen(KioskScreen):
    body_class = DocumentsBody


load_kv(__file__)
