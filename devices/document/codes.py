"""QR codes and barcodes on a straightened page, via zxing-cpp.

Why zxing-cpp and not zbar: on the straightened pages the kiosk reads (A4 at ~1240 × 1750 px),
zbar took 260-400 ms per page and was most of the scan's time; zxing-cpp with the options below
reads the same codes in 30-50 ms, and answers "no code" on a blank page in ~15 ms (measured in
``bench/bench_document.py`` and by hand on the synthetic pages). OpenCV's own ``QRCodeDetector``
was as slow as zbar here (250-400 ms) and reads QR only.

Options: ``try_downscale`` lets the reader look at a reduced image first (a page's codes have
large modules at 200 dpi); rotation and inverted codes are not tried in the first pass, since QR,
Data Matrix and PDF417 are found at any angle anyway and a page is straightened upright or
sideways. Only when nothing is found is a second pass made with rotation (a 1-D barcode printed
sideways) and, for a small page (a receipt), at twice the size: tiny QR modules under ~3 px.
The raw (straightened, not enhanced) page is read: thresholding-like enhancement can eat the
quiet zone of a small code.
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
_FORMATS = [
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.DataMatrix,
    zxingcpp.BarcodeFormat.PDF417,
    zxingcpp.BarcodeFormat.Aztec,
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.Code39,
    zxingcpp.BarcodeFormat.Code93,
    zxingcpp.BarcodeFormat.EAN13,
    zxingcpp.BarcodeFormat.EAN8,
    zxingcpp.BarcodeFormat.UPCA,
    zxingcpp.BarcodeFormat.ITF,
    zxingcpp.BarcodeFormat.Codabar,
]


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


def _decode(grey: np.ndarray, factor: float, *, thorough: bool) -> tuple[DecodedCode, ...]:
    found: dict[tuple[str, bytes], DecodedCode] = {}
    results = zxingcpp.read_barcodes(
        np.ascontiguousarray(grey),
        formats=_FORMATS,
        try_rotate=thorough,
        try_downscale=True,
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


def read_codes(*images: np.ndarray, upscale_below: int = 2000) -> tuple[DecodedCode, ...]:
    """Every distinct code on the first of ``images`` (same geometry) that shows any.

    ``images`` are alternatives of one page (raw, enhanced); only the first is read in the fast
    pass, the rest only when it shows nothing. When none shows any, the first is read once more
    trying rotations, and at twice the size when the page is small (a receipt).
    """
    if not images:
        return ()
    first = _grey(images[0])
    codes = _decode(first, 1.0, thorough=False)
    if codes:
        return codes
    for image in images[1:]:
        codes = _decode(_grey(image), 1.0, thorough=False)
        if codes:
            return codes
    if max(first.shape[:2]) < upscale_below:
        up = cv2.resize(first, (first.shape[1] * 2, first.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
        return _decode(up, 2.0, thorough=True)
    return _decode(first, 1.0, thorough=True)
