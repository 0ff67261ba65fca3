"""QR codes and barcodes on a straightened page, via zxing-cpp.

Why zxing-cpp and not zbar: on the straightened pages the kiosk reads (A4 at ~1240 × 1750 px),
zbar took 260-400 ms per page and was most of the scan's time; zxing-cpp reads the same codes in
a few ms. OpenCV's own ``QRCodeDetector`` was as slow as zbar here (250-400 ms) and reads QR only.

Why the passes below: most deposited pages carry no code at all, so what a page *without* a code
costs matters as much as how fast a code is found. Measured on the synthetic A4 page (1238 × 1751,
CPU ms): every format at the page's half-size copy 4 (finds the forms' QR codes: their modules
are 4+ px there); at full size QR 3, Data Matrix 4.6, PDF417 4.6, Aztec 4, all 2-D together 10;
1-D upright 1.8; 1-D with zxing's ``try_rotate`` 8, on a copy turned by OpenCV 3.5; all formats
turned, at full size, 35 (what one "thorough" call costs).

1. The reduced copy the quality check already made (long side ~1000 px, see ``quality.py``), all
   formats, upright only: the usual QR/Data Matrix/PDF417/Aztec on a form (2-D codes are found at
   any angle) and upright 1-D barcodes.
2. Nothing there: the full-resolution page upright, for the codes the reduced copy blurs: QR (a
   receipt's or an e-invoice's small QR) and 1-D barcodes with fine bars; then the page turned 90°
   for 1-D barcodes printed sideways (a form's margin). A Data Matrix with modules under ~2 px on
   the reduced copy (0.5 mm at a 100-dpi copy) on a large page is not looked for at full size:
   it would cost as much as the QR and 1-D passes together, for a code deposits hardly carry.
3. Still nothing on a small page (a till receipt, long side under ``small_page`` px): the page at
   twice the size, 2-D formats: tiny receipt QR modules under ~3 px.

A page with no code so costs about 2.5 page-sizes of decoding (~9 ms at A4 150 dpi, ~18 at
200 dpi), never an enlarged copy nor the turned-everything call; a form with its QR code costs one
reduced read.
The raw (straightened, not enhanced) page is read: thresholding-like enhancement can eat the quiet
zone of a small code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

log = logging.getLogger(__name__)

# zbar's names, which the rest of the kiosk (and stored scans' metadata) already use
_KIND = {"QRCode": "QRCODE", "MicroQRCode": "QRCODE", "Code128": "CODE128", "Code39": "CODE39", "ITF": "I25"}
_FORMATS_2D = (
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.DataMatrix,
    zxingcpp.BarcodeFormat.PDF417,
    zxingcpp.BarcodeFormat.Aztec,
)
_FORMATS_1D = (
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.Code39,
    zxingcpp.BarcodeFormat.Code93,
    zxingcpp.BarcodeFormat.EAN13,
    zxingcpp.BarcodeFormat.EAN8,
    zxingcpp.BarcodeFormat.UPCA,
    zxingcpp.BarcodeFormat.ITF,
    zxingcpp.BarcodeFormat.Codabar,
)
_FORMATS = _FORMATS_2D + _FORMATS_1D
# the 2-D code that comes small on a large page (an e-invoice's or a receipt's QR): the only 2-D
# format the full-size pass looks for. Data Matrix, PDF417 and Aztec are read on the reduced copy
# (and at full size and twice that on a small page); at full size on a 12 MP phone's A4 page Data
# Matrix alone costs 10 ms, QR 6.
_FORMATS_SMALL_2D = (zxingcpp.BarcodeFormat.QRCode,)


@dataclass(frozen=True)
class DecodedCode:
    kind: str  # symbology in zbar's naming: "QRCODE", "CODE128", "EAN13", …
    data: bytes
    polygon: tuple[tuple[int, int], ...]  # in page coordinates

    @property
    def text(self) -> str | None:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None


def _grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _decode(
    grey: np.ndarray, factor: float, formats: tuple[zxingcpp.BarcodeFormat, ...], *, rotate: bool
) -> tuple[DecodedCode, ...]:
    """Codes in ``grey``, corners divided by ``factor`` (``grey`` is the page × ``factor``)."""
    found: dict[tuple[str, bytes], DecodedCode] = {}
    results = zxingcpp.read_barcodes(
        np.ascontiguousarray(grey),
        formats=list(formats),
        try_rotate=rotate,
        try_downscale=False,  # the passes choose the scales themselves
        try_invert=False,
    )
    for res in results:
        name = res.format.name
        kind = _KIND.get(name, name.upper())
        data = bytes(res.bytes)
        pos = res.position
        corners = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
        poly = tuple((round(p.x / factor), round(p.y / factor)) for p in corners)
        found.setdefault((kind, data), DecodedCode(kind, data, poly))
    return tuple(found.values())


def read_codes(
    page: np.ndarray,
    reduced: tuple[np.ndarray, float] | None = None,
    *,
    small_page: int = 1000,
) -> tuple[DecodedCode, ...]:
    """Every distinct code on ``page`` (raw BGR or grey), corners in ``page`` pixels.

    ``reduced`` is a smaller grey copy of the page and the factor page ≈ copy × factor (the
    quality check's copy, so it costs nothing here); without it the first pass reads the page
    itself. See the module docstring for the passes and what each costs.
    """
    copy, factor = reduced if reduced is not None else (_grey(page), 1.0)
    codes = _decode(copy, 1.0 / factor, _FORMATS, rotate=False)
    if codes:
        return codes
    full = _grey(page)
    if copy.shape[:2] != full.shape[:2]:
        codes = _decode(full, 1.0, _FORMATS_SMALL_2D + _FORMATS_1D, rotate=False)
        if codes:
            return codes
    codes = _sideways(full)
    if codes or max(full.shape[:2]) >= small_page:
        return codes
    up = cv2.resize(full, (full.shape[1] * 2, full.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    return _decode(up, 2.0, _FORMATS_2D, rotate=False)


def _sideways(full: np.ndarray) -> tuple[DecodedCode, ...]:
    """1-D barcodes printed turned 90°: the page turned by OpenCV and read upright (zxing's own
    ``try_rotate`` costs 8 ms here against 3.5), corners mapped back to the page."""
    turned = cv2.rotate(full, cv2.ROTATE_90_COUNTERCLOCKWISE)  # page (x, y) -> turned (y, w - 1 - x)
    w = full.shape[1]
    out = []
    for code in _decode(turned, 1.0, _FORMATS_1D, rotate=False):
        poly = tuple((w - 1 - ty, tx) for tx, ty in code.polygon)
        out.append(DecodedCode(code.kind, code.data, poly))
    return tuple(out)
