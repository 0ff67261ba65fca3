"""Face check: live preview with the face outline and the current instruction ("move closer", "blink")."""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets.camera_preview import normalised_box


def face_box(params: dict[str, Any]) -> list[float]:
    """The outline as frame fractions: the demo's ``face_box`` or the flow's pixel ``box``."""
    if params.get("face_box"):
        return [float(v) for v in params["face_box"]]
    box = params.get("box")
    size = params.get("frame_size") or (640, 480)
    if not box or len(box) != 4:
        return []
    left, top, right, bottom = (float(v) for v in box)
    return normalised_box((left, top, right - left, bottom - top), (int(size[0]), int(size[1])))


class FaceBody(ScreenBody):
    camera = "face_camera"

    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        p = view.params
        ids.instruction.text = app.tr(view.message or "face.look_at_camera", **p)
        who = " ".join(str(p[k]) for k in ("name", "id_masked") if p.get(k))
        ids.who.text = who
        ids.who.height = ids.who.texture_size[1] if who else 0
        ids.preview.face_box = face_box(p)
        self.camera = str(view.params.get("camera", "face_camera"))
        if ids.preview.feed is None:
            ids.preview.attach(app.feed(self.camera))

    def leaving(self, app: UiContext) -> None:
        self.ids.preview.detach()
        app.release_feed(self.camera)


class FaceScreen(KioskScreen):
    body_class = FaceBody


load_kv(__file__)
