"""Staff: pending pickups, open one or all, confirm collected."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.uix.label import Label

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, fitted_label, load_kv
from kiosk.widgets import BigButton

COLUMNS = ("compartment", "case", "since")


class StaffPickupsBody(ScreenBody):
    custom_actions = ("open",)

    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        ids.message.text = app.tr(view.message or "staff.pickups")
        grid = ids.rows
        grid.clear_widgets()
        grid.cols = len(COLUMNS) + 1
        font = app.font_small
        for col in COLUMNS:
            title = f"{app.tr('staff.case')} / {app.tr('staff.name')}" if col == "case" else app.tr(f"staff.{col}")
            grid.add_widget(self._cell(title, font, ui_theme.SECONDARY))
        grid.add_widget(Label(size_hint_y=None, height=app.touch))
        rows: list[dict[str, Any]] = list(view.params.get("pickups", []))
        for row in rows:
            case_and_name = f"{row.get('case', '')}\n{row.get('name', '')}"
            for text in (str(row.get("compartment", "")), case_and_name, str(row.get("since", ""))):
                grid.add_widget(self._cell(text, font, ui_theme.TEXT))
            button = BigButton(text=app.tr("action.open"))
            button.disabled = "open" not in view.actions
            compartment = row.get("compartment")
            button.bind(on_release=lambda _b, c=compartment: app.send("open", {"compartment": c}))
            grid.add_widget(button)

    @staticmethod
    def _cell(text: str, font: float, color: tuple[float, ...]) -> Label:
        return fitted_label(text, font, color, App.get_running_app().touch)


class StaffPickupsScreen(KioskScreen):
    body_class = StaffPickupsBody


load_kv(__file__)
