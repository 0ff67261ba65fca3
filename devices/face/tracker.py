"""Find the face cheaply: detect on a small frame, then follow it with landmarks only.

HOG detection is the costly step after encoding, and its cost grows with the pixel count, so it
runs on a frame downscaled to ``detect_width`` and only every ``redetect_every`` frames or when
the landmarks say the face moved. In between, the 68-point landmark model (a few milliseconds at
full resolution) both follows the face and feeds the liveness checks. A second face walking in is
therefore noticed at the next re-detection, not on the very frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from devices.face.config import FaceCheckConfig
from devices.face.engine import Box, FaceEngine
from devices.face.liveness import interocular


@dataclass
class Located:
    boxes: list[Box]  # every face found this frame (full-resolution pixels)
    detected: bool  # the detector ran (else the box was tracked)
    landmarks: np.ndarray | None  # of the one face, when there is exactly one
    new_track: bool  # the face is not where the followed face was: maybe another person


def _overlap(a: Box, b: Box) -> float:
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a.width * a.height + b.width * b.height - inter)


class FaceTracker:
    def __init__(self, engine: FaceEngine, cfg: FaceCheckConfig) -> None:
        self._engine = engine
        self._cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._box: Box | None = None
        self._last: Box | None = None  # last box ever followed, to tell a new track from the old
        self._centre = np.zeros(2)
        self._iod = 0.0
        self._since = 0

    def _points(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """dlib's 5 public-domain points by default; the 68 iBUG points only when configured."""
        if self._cfg.landmarks68:
            return self._engine.landmarks(rgb, box)
        return self._engine.eye_points(rgb, box)

    def locate(self, rgb: np.ndarray) -> Located:
        if self._box is not None and self._since < self._cfg.redetect_every:
            tracked = self._follow(rgb, self._box)
            if tracked is not None:
                return tracked
        return self._detect(rgb)

    def _follow(self, rgb: np.ndarray, box: Box) -> Located | None:
        lm = self._points(rgb, box)
        centre, iod = lm.mean(0), interocular(lm)
        dx, dy = centre - self._centre
        scale = iod / self._iod if self._iod > 0 else 0.0
        if math.hypot(dx, dy) > self._cfg.max_track_shift * box.width or not 0.85 < scale < 1.18:
            return None  # moved too much for the old box to hold the face: detect again
        self._box = self._last = box.shifted(dx, dy, scale)
        self._centre, self._iod = centre, iod
        self._since += 1
        return Located([self._box], detected=False, landmarks=lm, new_track=False)

    def _detect(self, rgb: np.ndarray) -> Located:
        h, w = rgb.shape[:2]
        scale = min(1.0, self._cfg.detect_width / w)
        small = rgb
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        boxes = [b.scaled(1 / scale) for b in self._engine.detect(small, self._cfg.detect_upsample)]
        if len(boxes) != 1:
            self._box = None
            return Located(boxes, detected=True, landmarks=None, new_track=False)
        box = boxes[0]
        new_track = self._last is None or _overlap(box, self._last) < 0.3
        lm = self._points(rgb, box)
        self._box = self._last = box
        self._centre, self._iod = lm.mean(0), interocular(lm)
        self._since = 0
        return Located(boxes, detected=True, landmarks=lm, new_track=new_track)
