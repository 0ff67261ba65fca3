"""Identity confirmation: masked name and ID number with the card photo ("is this you?")."""

from __future__ import annotations

import numpy as np

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets.images import placeholder_photo, texture_from_bgr


class IdentityBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        ids.message.text = app.tr(view.message or "identity.confirm")
        elder = bool(getattr(app, "large_text", False))  # fewer words: the values speak for themselves
        ids.name_label.text = "" if elder else app.tr("identity.name")
        ids.name_value.text = str(p.get("name", ""))
        ids.id_label.text = "" if elder else app.tr("identity.id_number")
        ids.id_value.text = str(p.get("id_number", ""))
        photo = p.get("photo")
        ids.photo.texture = texture_from_bgr(photo if isinstance(photo, np.ndarray) else placeholder_photo())


class IdentityScreen(KioskScreen):
    body_class = IdentityBody


load_kv(__file__)
