"""Is the photo readable? Blur and glare checks that ask the resident for a retake.

Both are measured on the straightened page reduced by a whole factor to a long side of about
1000 px (block means, ``reduced_grey``), so the thresholds depend little on how large the page lies
in the frame; ``scan_page`` makes that copy once and also reads codes and estimates the lighting on
it. How the sharpness threshold was re-measured at the 200 dpi page cap: docs/thresholds.md.
Sharpness is the variance of the Laplacian per tile (after a contrast stretch) and the *upper*
tiles decide (90th percentile): margins and blank areas have no detail to be sharp with, and a page
with a sharp paragraph is a sharp photo.
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


def reduced_grey(page: np.ndarray) -> tuple[np.ndarray, float]:
    """The grey page at ~``QUALITY_LONG_SIDE`` px and the factor page ≈ copy × factor.

    One copy serves the quality checks and the first code-reading pass (``codes.read_codes``).
    The colour page is reduced first and turned grey after (the same block means, a quarter of the
    pixels to convert).
    """
    small, factor = downscale(page, QUALITY_LONG_SIDE)
    return (small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)), factor


def normalised_grey(page: np.ndarray) -> np.ndarray:
    return reduced_grey(page)[0]


def sharpness(grey: np.ndarray, tiles: int = 8) -> float:
    """Contrast-normalised sharpness: grey is stretched so 1st→99th percentile spans 0→255 first.

    Without the stretch, faint pencil on grey recycled paper scores as "blurred" and black print
    on white as "sharp" at the same focus.
    """
    lo, hi = _percentiles(grey, 1.0, 99.0)
    span = max(hi - lo, 16.0)  # a blank page is not stretched into pure noise
    # the stretch (g − lo)·255/span is linear and the Laplacian ignores the offset: its variance is
    # the raw image's times (255/span)², so the Laplacian runs on the 8-bit image in integers
    lap = cv2.Laplacian(grey if grey.dtype == np.uint8 else grey.astype(np.float32), cv2.CV_32F, ksize=3)
    h, w = lap.shape
    th, tw = max(1, h // tiles), max(1, w // tiles)
    ny, nx = h // th, w // tw
    # every whole th × tw tile at once: sums of x and x² per tile by reshaping, not 64 numpy calls
    blocks = lap[: ny * th, : nx * tw].reshape(ny, th, nx, tw)
    n = float(th * tw)
    mean = blocks.sum(axis=(1, 3), dtype=np.float64) / n
    mean_sq = np.square(blocks).sum(axis=(1, 3), dtype=np.float64) / n
    values = np.maximum(mean_sq - mean * mean, 0.0).ravel() * (255.0 / span) ** 2
    return float(np.percentile(values, 90)) if values.size else 0.0


def _percentiles(grey: np.ndarray, *qs: float) -> list[float]:
    """``np.percentile`` of a uint8 image (linear interpolation) from its histogram: no sort."""
    if grey.dtype != np.uint8:
        return [float(v) for v in np.percentile(grey, qs)]
    cum = np.cumsum(cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel())
    n = int(cum[-1])
    out = []
    for q in qs:
        pos = q / 100.0 * (n - 1)  # the sorted index numpy interpolates at
        i = int(pos)
        a = int(np.searchsorted(cum, i, side="right"))
        b = int(np.searchsorted(cum, min(i + 1, n - 1), side="right"))
        out.append(a + (b - a) * (pos - i))
    return out


def glare_fraction(
    grey: np.ndarray,
    level: int = 250,
    min_blob_fraction: float = 0.002,
    surround_drop: float = 15.0,
    max_dark_inside: float = 0.01,
) -> float:
    """Share of the page inside glare spots big enough to hide a word.

    Glare is a specular highlight: a burnt-out blob (≥ ``level``) that is brighter than the paper
    around it and has no print left inside it. So a saturated blob counts only when

    * the ring just outside it is darker by at least ``surround_drop`` grey levels (median): white
      paper filling the frame, or a bright but evenly lit page, is as bright around any bright
      patch as in it, and is not glare;
    * at most ``max_dark_inside`` of its filled outline is dark print (grey < 160): a bright page
      area with text on it is readable, however white the paper; a highlight burns the text out.

    The rim of a real highlight is sharp (the brightness climbs to saturation within a few pixels
    of the blob), which the surround test measures on a ring a few pixels wide.
    """
    min_blob = min_blob_fraction * grey.size
    mask = (grey >= level).astype(np.uint8)
    if cv2.countNonZero(mask) < min_blob:
        return 0.0  # not even one blob's worth of saturated pixels: the usual page, no labelling
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    ring_px = max(3, round(0.01 * max(grey.shape)))
    ring_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring_px + 1, 2 * ring_px + 1))
    total = 0
    for i in range(1, n):
        area = int(stats[i, cv2.CC_STAT_AREA])
        if area < min_blob:
            continue
        x, y, w, h = (int(v) for v in stats[i, :4])
        x0, y0 = max(0, x - 2 * ring_px), max(0, y - 2 * ring_px)
        x1, y1 = min(grey.shape[1], x + w + 2 * ring_px), min(grey.shape[0], y + h + 2 * ring_px)
        blob = (labels[y0:y1, x0:x1] == i).astype(np.uint8)
        contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros_like(blob)
        cv2.drawContours(filled, contours, -1, 1, -1)
        crop = grey[y0:y1, x0:x1]
        if float((crop[filled > 0] < 160).mean()) > max_dark_inside:
            continue  # print inside: readable paper, not a highlight
        ring = cv2.dilate(filled, ring_kernel) > filled
        if int(ring.sum()) < 0.2 * area ** 0.5 * ring_px:
            continue  # no surround to compare with (the blob is the whole page)
        if float(np.median(crop[ring])) > level - surround_drop:
            continue  # no brighter than the paper around it
        total += area
    return float(total) / float(grey.size)


def assess(page: np.ndarray, *, min_sharpness: float, max_glare: float) -> QualityVerdict:
    return assess_grey(normalised_grey(page), min_sharpness=min_sharpness, max_glare=max_glare)


def assess_grey(grey: np.ndarray, *, min_sharpness: float, max_glare: float) -> QualityVerdict:
    """The verdict on a page already reduced by ``reduced_grey``."""
    sharp = sharpness(grey)
    glare = glare_fraction(grey)
    reasons = []
    if sharp < min_sharpness:
        reasons.append(RetakeReason.BLURRED)
    if glare > max_glare:
        reasons.append(RetakeReason.GLARE)
    return QualityVerdict(not reasons, tuple(reasons), sharp, glare)
