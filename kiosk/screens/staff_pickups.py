"""Staff: pending pickups, open one or all, confirm collected; results to put back for residents.

Rows come from the staff flow's View: ``pending`` (committed cases: open its compartment, then
confirm "collected") and ``results_due`` (collected cases: put the result in a compartment for the
resident). The demo host's older ``pickups`` rows are shown the same way. Doors that did not open
are listed under the title by compartment with the reason (``failed``), and their rows say why.
"open" / "collected" / "result" are drawn per row; "open all", "override" (the compartment
controls), "maintenance", "done" and "cancel" are the action bar's.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.uix.label import Label

from flows.view import View
from kiosk import ui_theme
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, fitted_label, load_kv
from kiosk.widgets import BigButton

COLUMNS = ("compartment", "case", "since")


def _since(value: Any) -> str:
    if isinstance(value, int | float):
        import datetime as dt

        return dt.datetime.fromtimestamp(value).strftime("%m-%d %H:%M")
    return str(value or "")


class StaffPickupsBody(ScreenBody):
    custom_actions = ("open", "collected", "result")

    def show(self, view: View, app: UiContext) -> None:
        ids = self.ids
        lines = [app.tr(view.message or "staff.pickups", **view.params)]
        for f in view.params.get("failed", []):
            reason = app.tr(str(f.get("reason", "")))
            lines.append(app.tr(str(f.get("message", "staff.not_opened_one")), compartment=f.get("compartment"),
                                reason=reason))
        for c in view.params.get("needs_check", []):  # out of order: staff check them (compartment controls)
            lines.append(app.tr("staff.needs_check_one", compartment=c.get("compartment"),
                                case_code=c.get("case_code") or "-", note=c.get("note", "")))
        ids.message.text = "\n".join(lines)
        grid = ids.rows
        grid.clear_widgets()
        grid.cols = len(COLUMNS) + 1
        font = app.font_small
        for col in COLUMNS:
            title = f"{app.tr('staff.case')} / {app.tr('staff.name')}" if col == "case" else app.tr(f"staff.{col}")
            grid.add_widget(self._cell(title, font, ui_theme.SECONDARY))
        grid.add_widget(Label(size_hint_y=None, height=app.touch))
        rows: list[dict[str, Any]] = list(view.params.get("pending", view.params.get("pickups", [])))
        for row in rows:
            case = row.get("case_code", row.get("case", ""))
            name = row.get("name_masked", row.get("name", ""))
            since = _since(row.get("committed_at", row.get("since", "")))
            why = row.get("not_opened")
            case_text = f"{case}\n{name}" + (f"\n{app.tr(str(why))}" if why else "")
            earlier = row.get("unconfirmed")
            if earlier:  # opened in an earlier session, never confirmed: staff check and confirm
                case_text += "\n" + app.tr("staff.unconfirmed", by=earlier.get("by", ""))
            for text in (str(row.get("compartment", "")), case_text, since):
                grid.add_widget(self._cell(text, font, ui_theme.DANGER if why else ui_theme.TEXT))
            if row.get("opened"):
                button = BigButton(text=app.tr("action.collected"))
                button.disabled = "collected" not in view.actions
                button.bind(on_release=lambda _b, c=case: app.send("collected", {"case_code": c}))
            else:
                button = BigButton(text=app.tr("action.open"))
                button.disabled = "open" not in view.actions
                data = {"case_code": case} if "case_code" in row else {"compartment": row.get("compartment")}
                button.bind(on_release=lambda _b, d=data: app.send("open", d))
            grid.add_widget(button)
        due: list[dict[str, Any]] = list(view.params.get("results_due", []))
        if due:
            grid.add_widget(self._cell(app.tr("staff.results_due"), font, ui_theme.SECONDARY))
            for _ in range(len(COLUMNS)):
                grid.add_widget(Label(size_hint_y=None, height=app.touch))
        for row in due:
            case = str(row.get("case_code", ""))
            for text in ("", f"{case}\n{row.get('name_masked', '')}", ""):
                grid.add_widget(self._cell(text, font, ui_theme.TEXT))
            button = BigButton(text=app.tr("action.result"))
            button.disabled = "result" not in view.actions
            button.bind(on_release=lambda _b, c=case: app.send("result", {"case_code": c, "size": "small"}))
            grid.add_widget(button)

    @staticmethod
    def _cell(text: str, font: float, color: tuple[float, ...]) -> Label:
        return fitted_label(text, font, color, App.get_running_app().touch)


class StaffPickupsScreen(KioskScreen):
    body_class = StaffPickupsBody


load_kv(__file__)
