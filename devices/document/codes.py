"""QR codes and barcodes on a straightened page, via zbar.

zbar reads only the first channel of a colour array, so it always gets a grey image. The raw
(straightened, not enhanced) page is tried first because thresholding-like enhancement can eat
the quiet zone of a small code; the enhanced page is tried only when nothing was found.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from pyzbar import pyzbar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodedCode:
    kind: str  # zbar's symbology name: "QRCODE", "CODE128", "EAN13", …
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


def _decode(grey: np.ndarray, factor: float) -> tuple[DecodedCode, ...]:
    found: dict[tuple[str, bytes], DecodedCode] = {}
    for sym in pyzbar.decode(np.ascontiguousarray(grey)):
        kind = str(sym.type)
        poly = tuple((round(p.x / factor), round(p.y / factor)) for p in sym.polygon)
        found.setdefault((kind, bytes(sym.data)), DecodedCode(kind, bytes(sym.data), poly))
    return tuple(found.values())


def read_codes(*images: np.ndarray, upscale_below: int = 2000) -> tuple[DecodedCode, ...]:
    """Every distinct code on the first of ``images`` (same geometry) that shows any.

    When none shows any and the page is small (a receipt), the first image is tried once more at
    twice the size: zbar misses QR modules under ~3 px, which a receipt's code easily has.
    """
    for image in images:
        codes = _decode(_grey(image), 1.0)
        if codes:
            return codes
    if images and max(images[0].shape[:2]) < upscale_below:
        grey = _grey(images[0])
        up = cv2.resize(grey, (grey.shape[1] * 2, grey.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
        return _decode(up, 2.0)
    return ()
