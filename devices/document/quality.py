"""Is the photo readable? Blur and glare checks that ask the resident for a retake.

Both are measured on the straightened page resampled to a fixed size (long side 1000 px), so the
thresholds do not depend on how large the page lies in the frame. Sharpness is the variance of the
Laplacian per tile (after a contrast stretch) and the *upper* tiles decide (90th percentile):
margins and blank areas have no detail to be sharp with, and a page with a sharp paragraph is a
sharp photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from devices.document.finder import downscale

QUALITY_LONG_SIDE = 1000


class RetakeReason(StrEnum):
    BLURRED = "blurred"  # out of focus or moved during the shot
    GLARE = "glare"  # a reflection burns out part of the page


@dataclass(frozen=True)
class QualityVerdict:
    ok: bool
    reasons: tuple[RetakeReason, ...]
    sharpness: float  # 90th-percentile tile variance of the Laplacian at 1000 px
    glare_fraction: float  # share of the page covered by saturated blobs

    @property
    def codes(self) -> tuple[str, ...]:
        """UI translation keys, e.g. ``document.retake.blurred``."""
        return tuple(f"document.retake.{r.value}" for r in self.reasons)


def normalised_grey(page: np.ndarray) -> np.ndarray:
    grey = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    small, _ = downscale(grey, QUALITY_LONG_SIDE)
    return small


def sharpness(grey: np.ndarray, tiles: int = 8) -> float:
    """Contrast-normalised sharpness: grey is stretched so 1st→99th percentile spans 0→255 first.

    Without the stretch, faint pencil on grey recycled paper scores as "blurred" and black print
    on white as "sharp" at the same focus.
    """
    lo, hi = np.percentile(grey, (1, 99))
    span = max(float(hi - lo), 16.0)  # a blank page is not stretched into pure noise
    norm = (grey.astype(np.float32) - float(lo)) * (255.0 / span)
    lap = cv2.Laplacian(norm, cv2.CV_32F, ksize=3)
    h, w = lap.shape
    th, tw = max(1, h // tiles), max(1, w // tiles)
    values = [
        float(lap[y : y + th, x : x + tw].var()) for y in range(0, h - th + 1, th) for x in range(0, w - tw + 1, tw)
    ]
    return float(np.percentile(values, 90)) if values else 0.0


def glare_fraction(grey: np.ndarray, level: int = 250, min_blob_fraction: float = 0.002) -> float:
    """Share of the page inside saturated blobs big enough to hide a word."""
    mask = (grey >= level).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_blob = min_blob_fraction * grey.size
    areas = stats[1:n, cv2.CC_STAT_AREA] if n > 1 else np.zeros(0)
    return float(areas[areas >= min_blob].sum()) / float(grey.size)


def assess(page: np.ndarray, *, min_sharpness: float, max_glare: float) -> QualityVerdict:
    grey = normalised_grey(page)
    sharp = sharpness(grey)
    glare = glare_fraction(grey)
    reasons = []
    if sharp < min_sharpness:
        reasons.append(RetakeReason.BLURRED)
    if glare > max_glare:
        reasons.append(RetakeReason.GLARE)
    return QualityVerdict(not reasons, tuple(reasons), sharp, glare)
