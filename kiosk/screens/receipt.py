"""Receipt: the pickup / case code, large, with a QR code to follow the case."""

from __future__ import annotations

import numpy as np

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv
from kiosk.widgets.images import qr_image, texture_from_bgr


class ReceiptBody(ScreenBody):
    _qr_text = ""

    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        ids.message.text = app.tr(view.message or "receipt.done", **p)
        ids.code_label.text = app.tr("receipt.case_code" if "case_code" in p else "receipt.code")
        ids.code.text = str(p.get("code") or p.get("case_code", ""))
        qr = p.get("qr") or p.get("qr_payload")
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
