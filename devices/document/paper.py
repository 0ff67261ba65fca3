"""Known paper sizes and snapping a measured aspect ratio to them.

Snapping matters twice: a page straightened to exactly 1:√2 looks right (a measured 1:1.43 does
not), and a recognised size gives the PDF its true physical size and so its DPI. Ratio alone cannot
tell A4 from A5 (both 1:√2); without a camera scale the most common size of the family wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PaperSize:
    name: str
    short_mm: float
    long_mm: float

    @property
    def ratio(self) -> float:
        """Long side over short side (≥ 1)."""
        return self.long_mm / self.short_mm


# Order = preference when only the ratio is known: the first size of a ratio family wins.
PAPER_SIZES: tuple[PaperSize, ...] = (
    PaperSize("A4", 210.0, 297.0),
    PaperSize("A5", 148.0, 210.0),
    PaperSize("A3", 297.0, 420.0),
    PaperSize("A6", 105.0, 148.0),
    PaperSize("B5", 182.0, 257.0),  # JIS B5, common for Chinese forms
    PaperSize("16K", 195.0, 270.0),  # 大16开
    PaperSize("Letter", 215.9, 279.4),
    PaperSize("Legal", 215.9, 355.6),
    PaperSize("ID-1", 53.98, 85.60),  # bank/ID card
)


def snap_paper(
    ratio: float,
    *,
    tolerance: float = 0.03,
    long_side_mm: float | None = None,
    sizes: tuple[PaperSize, ...] = PAPER_SIZES,
) -> PaperSize | None:
    """The known size whose long/short ratio is within ``tolerance`` (relative) of ``ratio``.

    ``long_side_mm`` (when the camera scale is known) picks among sizes of the same ratio; without
    it, the earliest size in ``sizes`` of the closest ratio wins.
    """
    if not math.isfinite(ratio) or ratio <= 0:
        return None
    r = max(ratio, 1.0 / ratio)
    close = [s for s in sizes if abs(s.ratio - r) / s.ratio <= tolerance]
    if not close:
        return None
    if long_side_mm is not None and long_side_mm > 0:
        return min(close, key=lambda s: abs(math.log(s.long_mm / long_side_mm)))
    best = min(abs(s.ratio - r) for s in close)
    # sizes whose ratio is as good as the best within 0.5 %: keep the preferred (first) of them
    for s in close:
        if abs(s.ratio - r) <= best + 0.005 * s.ratio:
            return s
    return close[0]  # pragma: no cover - the loop always returns
