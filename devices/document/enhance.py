"""Making a straightened page easy to read: even lighting, optional black and white.

Uneven light (a lamp to one side, the resident's shadow) is removed by dividing the page by an
estimate of the bare paper's brightness. That estimate only has to be smooth, so it is computed
on a copy ~1/8 the size: closing (dilating) there wipes out the text, a blur smooths it, and one
upscale brings it back. A Gaussian with a kernel big enough to ignore text at 5 MP would cost ~50×
more for the same result.
"""

from __future__ import annotations

import cv2
import numpy as np

from devices.document.finder import downscale


def background_estimate(page: np.ndarray, work_long_side: int = 256) -> np.ndarray:
    """The paper's brightness at every pixel of ``page`` without the ink on it (same shape)."""
    small, _ = downscale(page, work_long_side)
    h, w = small.shape[:2]
    k = max(3, (min(h, w) // 24) | 1)  # wider than a text stroke at this scale
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    bg = cv2.dilate(small, kernel)
    bg = cv2.medianBlur(bg, 5 if bg.dtype == np.uint8 else 3)
    bg = cv2.GaussianBlur(bg, (0, 0), k / 2.0)
    full = cv2.resize(bg, (page.shape[1], page.shape[0]), interpolation=cv2.INTER_LINEAR)
    return full


def flatten_lighting(page: np.ndarray, white: int = 245) -> np.ndarray:
    """Page divided by its background estimate: paper becomes ``white``, ink keeps its contrast."""
    bg = background_estimate(page)
    bg = np.maximum(bg, 1)
    return cv2.divide(page, bg, scale=float(white))


def to_black_and_white(page: np.ndarray, block_fraction: float = 1 / 40, offset: int = 12) -> np.ndarray:
    """Adaptive threshold so faint stamps and pencil survive on an evenly lit page."""
    grey = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    block = max(11, int(max(grey.shape) * block_fraction) | 1)
    return cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, offset)
