"""The resident's receipt: the case code on screen, as a QR code, and on paper when a printer exists.

The QR code carries only the case code, never the pickup code: a receipt photographed over
someone's shoulder must not be enough to fetch their results. With a back office configured it
is the progress page's address (``<public url>/track/<case code>``), which a phone's camera opens
and which shows nothing personal until the pickup code or the ID number's last 4 are typed;
without one it is ``KIOSK-CASE:<code>`` for staff scanners. The pickup code is printed in text for
the resident alone and shown on screen once.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
from dataclasses import dataclass, field

import qrcode
from escpos.escpos import Escpos

from devices.printer import PrinterError, ReceiptPrinter, chinese_text

log = logging.getLogger(__name__)

QR_PREFIX = "KIOSK-CASE:"


@dataclass(frozen=True)
class Receipt:
    case_code: str
    pickup_code: str
    service_name_zh: str
    service_name_en: str
    compartment_id: str
    processing_days: int
    kiosk_name: str
    issued_at: dt.datetime
    deferred_papers: tuple[str, ...] = field(default_factory=tuple)  # names (zh) to hand in later
    track_base_url: str = ""  # the back office's public address; "" = no progress page

    @property
    def qr_payload(self) -> str:
        return track_url(self.track_base_url, self.case_code) if self.track_base_url else f"{QR_PREFIX}{self.case_code}"


def track_url(base: str, case_code: str) -> str:
    return f"{base.rstrip('/')}/track/{case_code}"


def parse_qr_payload(text: str) -> str | None:
    """The case code in a scanned receipt QR code (either form), or None when it is not one of ours."""
    text = text.strip()
    if text.startswith(QR_PREFIX):
        return text[len(QR_PREFIX) :]
    head, sep, code = text.rpartition("/track/")
    return code if sep and head.startswith(("https://", "http://")) and code.isalnum() and len(code) == 8 else None


def qr_png(payload: str, box_size: int = 8) -> bytes:
    """PNG bytes of the QR code (medium error correction: receipts get folded)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=2)
    code.add_data(payload)
    code.make(fit=True)
    buf = io.BytesIO()
    code.make_image().save(buf, format="PNG")
    return buf.getvalue()


def view_params(receipt: Receipt) -> dict[str, object]:
    """What the receipt screen needs (the QR as base64 PNG so any UI can show it)."""
    return {
        "case_code": receipt.case_code,
        "pickup_code": receipt.pickup_code,
        "service_zh": receipt.service_name_zh,
        "service_en": receipt.service_name_en,
        "compartment": receipt.compartment_id,
        "days": receipt.processing_days,
        "deferred": list(receipt.deferred_papers),
        "qr_payload": receipt.qr_payload,
        "qr_png_b64": base64.b64encode(qr_png(receipt.qr_payload)).decode("ascii"),
    }


def render(printer: Escpos, receipt: Receipt) -> None:
    """The ESC/POS commands of one receipt (58/80 mm thermal paper)."""
    printer.set(align="center", bold=True, double_height=True)
    chinese_text(printer, "受理回执")
    printer.set(align="center", bold=False, normal_textsize=True)
    chinese_text(printer, receipt.kiosk_name)
    printer.textln("-" * 32)
    printer.set(align="left")
    chinese_text(printer, f"事项：{receipt.service_name_zh}")
    printer.textln(f"Service: {receipt.service_name_en}")
    chinese_text(printer, f"受理编号 Case code: {receipt.case_code}")
    chinese_text(printer, f"取件码 Pickup code: {receipt.pickup_code}")
    chinese_text(printer, f"柜格 Compartment: {receipt.compartment_id}")
    chinese_text(printer, f"一般办理时限：{receipt.processing_days} 个工作日")
    for name in receipt.deferred_papers:
        chinese_text(printer, f"容缺后补：{name}")
    printer.textln(receipt.issued_at.strftime("%Y-%m-%d %H:%M"))
    printer.set(align="center")
    printer.qr(receipt.qr_payload, native=True, size=6, center=False)
    if receipt.track_base_url:
        chinese_text(printer, "扫码查看办理进度 Scan for progress")
    chinese_text(printer, "请妥善保管本回执，凭取件码或身份证领取办理结果")


class ReceiptIssuer:
    """Prints receipts when a printer is configured; printing never blocks the resident's session end."""

    def __init__(self, printer: ReceiptPrinter | None, track_base_url: str = "") -> None:
        self.printer = printer
        self.track_base_url = track_base_url  # the receipts' QR codes point at the progress page

    @property
    def can_print(self) -> bool:
        return self.printer is not None and self.printer.is_usable()

    def print(self, receipt: Receipt) -> bool:
        """True when printed; a printer failure is logged and reported as False (the screen has the code)."""
        if self.printer is None:
            return False
        try:
            self.printer.print_job(lambda p: render(p, receipt))
        except PrinterError as exc:
            log.warning("receipt for case %s not printed: %s", receipt.case_code, exc)
            return False
        return True
