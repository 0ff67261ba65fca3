"""Compartment size choice: small / medium / large, with how many are free; full sizes are disabled."""

from __future__ import annotations

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets import BigButton

SIZES = ("small", "medium", "large")


class CompartmentSizeBody(ScreenBody):
    custom_actions = SIZES

    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.message.text = app.tr(view.message or "compartment.choose")
        ids.sizes.clear_widgets()
        free = view.params.get("free", {})
        for size in SIZES:
            count = int(free.get(size, 0))
            note = app.tr("compartment.free", count=count) if count else app.tr("compartment.none_free")
            button = BigButton(text=f"{app.tr(f'action.{size}')}\n{note}", scale=1.8)
            button.disabled = size not in view.actions
            button.bind(on_release=lambda _b, s=size: app.send(s))
            ids.sizes.add_widget(button)


class CompartmentSizeScreen(KioskScreen):
    body_class = CompartmentSizeBody


load_kv(__file__)
