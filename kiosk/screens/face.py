"""Face check: live preview with the face outline and the current instruction ("move closer", "blink")."""

from __future__ import annotations

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class FaceBody(ScreenBody):
    camera = "face_camera"

    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.instruction.text = app.tr(view.message or "face.look_at_camera", **view.params)
        ids.preview.face_box = list(view.params.get("face_box") or [])
        self.camera = str(view.params.get("camera", "face_camera"))
        if ids.preview.feed is None:
            ids.preview.attach(app.feed(self.camera))

    def leaving(self, app: UiContext) -> None:
        self.ids.preview.detach()
        app.release_feed(self.camera)


class FaceScreen(KioskScreen):
    body_class = FaceBody


load_kv(__file__)
