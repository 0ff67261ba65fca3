"""Receipt: the pickup code, large; what happens next and when, in one sentence; take the ID card.

The last screen of a deposit must leave the resident knowing three things: the code to come back
with, when that will be (staff collect the papers the next working day, the service takes about
N working days), and that the ID card is still on the reader. The QR code and the case number are
for following the case later; in elder mode they give way (fewer words on the screen).
"""

from __future__ import annotations

import numpy as np

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets.images import qr_image, texture_from_bgr


class ReceiptBody(ScreenBody):
    _qr_text = ""

    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        elder = bool(getattr(app, "large_text", False))
        ids.message.text = app.tr(view.message or "receipt.done", **p)
        code = str(p.get("pickup_code") or p.get("code") or "")
        ids.code_label.text = app.tr("receipt.code") if code else app.tr("receipt.case_code")
        ids.code.text = code or str(p.get("case_code", ""))
        ids.next_step.text = app.tr("finish.receipt_next", days=p.get("days", "?"))
        ids.take_card.text = app.tr("finish.take_card")
        case = str(p.get("case_code") or "") if code else ""
        ids.case_code.text = f"{app.tr('receipt.case_code')} {case}" if case and not elder else ""
        qr = None if elder else (p.get("qr") or p.get("qr_payload"))
        ids.qr.opacity = 0 if qr is None else 1
        ids.qr.size_hint_y = None if qr is None else 1
        if qr is None:
            ids.qr.height = 0
        if isinstance(qr, np.ndarray):
            ids.qr.texture = texture_from_bgr(qr)
        elif qr and qr != self._qr_text:
            ids.qr.texture = texture_from_bgr(qr_image(str(qr)))
            self._qr_text = str(qr)
        lines = [app.tr("receipt.scan")] if qr is not None else []
        if "printing" in p:
            lines.append(app.tr(_printer_key(p)))
        ids.scan.text = "\n".join(lines)
        lang = getattr(app, "language", "zh")
        later = [str(d.get(f"name_{lang}") or d.get("name_zh", "")) for d in p.get("deferred_papers", [])]
        sep = "、" if lang == "zh" else ", "
        ids.later.text = app.tr("receipt.bring_later", papers=sep.join(later)) if later else ""


def _printer_key(p: dict) -> str:
    """What the resident should do about the paper receipt (keep the code when none comes out)."""
    if p.get("printing"):
        return "receipt.printing"
    if p.get("printed"):
        return "receipt.printed"
    if p.get("print_failed"):
        return "receipt.print_failed"
    return "receipt.no_printer"


class ReceiptScreen(KioskScreen):
    body_class = ReceiptBody


load_kv(__file__)
