"""Staff: compartment controls; pick a compartment and a reason, then open / disable / enable (an override)."""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets import BigButton

STATE_ROLE = {"free": "primary", "occupied": "secondary", "disabled": "danger", "open": "danger"}


class StaffCompartmentsBody(ScreenBody):
    custom_actions = ("select", "reason")
    _selected: str | None = None
    _reason: str | None = None

    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        ids.message.text = app.tr(view.message or "staff.compartments")
        self._selected, self._reason = p.get("selected"), p.get("reason")
        ids.tiles.clear_widgets()
        ids.tiles.cols = 6 if app.landscape else 4
        compartments: list[dict[str, Any]] = list(p.get("compartments", []))
        for c in compartments:
            cid, state = str(c.get("id")), str(c.get("state", "free"))
            tile = BigButton(text=f"{cid}\n{app.tr(f'staff.state_{state}')}", role=STATE_ROLE.get(state, "primary"))
            tile.selected = cid == self._selected
            tile.disabled = "select" not in view.actions
            tile.bind(on_release=lambda _b, i=cid: app.send("select", {"compartment": i}))
            ids.tiles.add_widget(tile)
        ids.reason_title.text = app.tr("staff.reason")
        ids.reasons.clear_widgets()
        for reason in p.get("reasons", []):
            button = BigButton(text=app.tr(f"reason.{reason}"), role="choice", selected=reason == self._reason)
            button.disabled = "reason" not in view.actions
            button.bind(on_release=lambda _b, r=reason: app.send("reason", {"reason": r}))
            ids.reasons.add_widget(button)

    def action_data(self, action: str) -> dict[str, Any]:
        return {"compartment": self._selected, "reason": self._reason}


class StaffCompartmentsScreen(KioskScreen):
    body_class = StaffCompartmentsBody


load_kv(__file__)
