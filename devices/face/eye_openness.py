"""How open an eye is, from its two corners only: the licence-clean way to see a blink.

dlib's 68-point model (the usual eye-aspect-ratio blink check) is trained on iBUG 300-W, whose
licence excludes commercial use; dlib's 5-point model is public domain but gives only the two
corners of each eye. So the openness is read from the pixels between the corners instead of from
eyelid points: the eye is cut out in a patch aligned with its corners (rotated so they lie
horizontal, as wide as the corner distance, 0.6 of that high, resampled to a fixed size so face
size does not matter), and the measure is the ratio of horizontal to vertical gradient energy in
the patch. An open eye has vertical edges (the sides of the iris, the corners of the opening) as
well as the horizontal lid lines; a shut eye is one horizontal lash line, so the ratio collapses
(to 15-60 % of the open level on the recorded blinks, while open frames stay above about 85 %,
``bench/bench_face_liveness.py``). A ratio of energies ignores overall brightness and contrast.

A blink is judged against the person's own open level (a high percentile over the track), like
the eye-aspect-ratio check: the measure must fall below ``1 - drop`` of it on both eyes for a
few frames and come back, which a photo held up or a moving still face does not do.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

PATCH_W = 48  # px of the resampled eye patch; ~ the eye's size at the kiosk's working distance
PATCH_H = 29  # 0.6 × width: the opening plus lids, not the brow
MAX_SHUT_FRAMES = 6  # a closure longer than this is not a blink (eyes shut, or a look down)


def eye_patch(grey: np.ndarray, corner_a: np.ndarray, corner_b: np.ndarray) -> np.ndarray:
    """The eye between two corners, rotated level and resampled to PATCH_W × PATCH_H (float32)."""
    a, b = (corner_a, corner_b) if corner_a[0] <= corner_b[0] else (corner_b, corner_a)
    dist = float(np.linalg.norm(b - a))
    if dist < 2:
        raise ValueError(f"eye corners {dist:.1f} px apart: no eye to measure")
    angle = float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))
    centre = (a + b) / 2
    scale = PATCH_W / dist
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    m[0, 2] += PATCH_W / 2 - centre[0]
    m[1, 2] += PATCH_H / 2 - centre[1]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    patch = cv2.warpAffine(grey, m, (PATCH_W, PATCH_H), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return patch.astype(np.float32)


def gradient_openness(patch: np.ndarray) -> float:
    """Horizontal over vertical gradient energy: high with an iris showing, low with a lash line."""
    gx = cv2.Sobel(patch, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1, ksize=3)
    return float((gx * gx).sum() / max(float((gy * gy).sum()), 1e-6))


def template_similarity(patch: np.ndarray, template: np.ndarray) -> float:
    """Normalised correlation with the same eye's open template (1 = identical; a shut eye falls)."""
    a = patch - patch.mean()
    b = template - template.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def eyes_from_five(points: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """dlib 5-point layout: 0-1 one eye's corners, 2-3 the other's, 4 under the nose."""
    return (points[0], points[1]), (points[2], points[3])


def eyes_openness(grey: np.ndarray, points: np.ndarray) -> tuple[float, float]:
    """Openness of both eyes of a face from its 5 points (see ``gradient_openness``)."""
    (a0, a1), (b0, b1) = eyes_from_five(points)
    left = eye_patch(grey, a0, a1)
    right = eye_patch(grey, b0, b1)
    try:
        return gradient_openness(left), gradient_openness(right)
    finally:
        left.fill(0)
        right.fill(0)


class BlinkDetector:
    """A blink on one face track from per-frame openness of both eyes (any measure, higher = open).

    The open level of each eye is the 80th percentile of its open frames (eyes are open most of the
    time). A blink: both eyes under ``1 - drop`` of their level for 1 to MAX_SHUT_FRAMES frames,
    then both back above ``1 - drop / 2``.
    """

    def __init__(self, drop: float, min_open_frames: int = 2) -> None:
        self._drop = drop
        self._min_open = min_open_frames
        self._levels: tuple[deque[float], deque[float]] = (deque(maxlen=30), deque(maxlen=30))
        self.reset()

    def reset(self) -> None:
        for d in self._levels:
            d.clear()
        self.blinked = False
        self.min_ratio = 1.0  # lowest (both-eye) ratio seen, for logs and the bench
        self._shut = 0
        self._open_frames = 0

    def open_level(self, eye: int) -> float:
        values = self._levels[eye]
        return float(np.percentile(values, 80)) if values else 0.0

    def update(self, left: float, right: float) -> None:
        values = (left, right)
        if self._open_frames >= self._min_open and min(self.open_level(0), self.open_level(1)) > 0:
            ratio = max(v / self.open_level(i) for i, v in enumerate(values))  # both eyes must drop
            self.min_ratio = min(self.min_ratio, ratio)
            if ratio < 1 - self._drop:
                self._shut += 1
                return  # shut values stay out of the open level
            if self._shut and ratio > 1 - self._drop / 2:
                if self._shut <= MAX_SHUT_FRAMES:
                    self.blinked = True
                self._shut = 0
            elif self._shut:
                return  # half open: neither shut nor recovered yet
        for i, v in enumerate(values):
            self._levels[i].append(v)
        self._open_frames += 1
