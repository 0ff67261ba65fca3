"""Is a live person in front of the camera: blink, motion and (optionally) a head turn.

A printed or on-screen photo held up does not blink, and a photo on a stand or an injected still
frame does not move either. Both are judged from the points the session follows the face with
anyway: by default dlib's 5 public-domain points (eye corners, nose base) with the blink read from
the eye patch between the corners (``eye_openness``); with ``landmarks68`` (comparison only, the
68-point model's training data excludes commercial use) from the 68 iBUG points and the eye
aspect ratio. Limits: a replayed video of the resident blinking passes; that
needs depth or challenge-response hardware this kiosk does not have.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from devices.face.config import FaceCheckConfig
from devices.face.eye_openness import BlinkDetector, eyes_openness

# iBUG 300-W indices
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOT_EYES = np.r_[0:36, 48:68]  # motion is measured without the eyes, so a blink is not "motion"


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupová & Čech's EAR of one eye's six points: about 0.3 open, near 0 closed."""
    vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    horizontal = np.linalg.norm(eye[0] - eye[3])
    return float(vertical / (2.0 * horizontal)) if horizontal > 0 else 0.0


def mean_ear(landmarks: np.ndarray) -> float:
    return (eye_aspect_ratio(landmarks[_LEFT_EYE]) + eye_aspect_ratio(landmarks[_RIGHT_EYE])) / 2


JAW_PER_EYE_SPAN = 1.68  # jaw width / outer-eye-corner distance, measured on the test photos (1.55-1.74)


def interocular(landmarks: np.ndarray) -> float:
    if len(landmarks) == 5:  # 0-1 and 2-3 are the corners of one eye each
        return float(np.linalg.norm(landmarks[0:2].mean(0) - landmarks[2:4].mean(0)))
    return float(np.linalg.norm(landmarks[_LEFT_EYE].mean(0) - landmarks[_RIGHT_EYE].mean(0)))


def yaw(landmarks: np.ndarray) -> float:
    """Nose-tip offset from the jaw's middle, in half jaw-widths: 0 frontal, ± towards a side.

    Sign is in image coordinates (positive = nose towards the image's right), so the prompt need
    not know whether the preview is mirrored. With 5 points: the nose base's offset from the eyes'
    middle, in the same units (half jaw-width estimated from the outer eye corners).
    """
    if len(landmarks) == 5:
        half = np.linalg.norm(landmarks[0] - landmarks[2]) * JAW_PER_EYE_SPAN / 2
        middle = landmarks[0:4].mean(0)[0]
        return float((landmarks[4][0] - middle) / half) if half > 0 else 0.0
    left, right, nose = landmarks[0], landmarks[16], landmarks[30]
    half = (right[0] - left[0]) / 2
    return float((nose[0] - (left[0] + right[0]) / 2) / half) if half > 0 else 0.0


class LivenessTracker:
    """Evidence of life over the frames of one continuous face track."""

    def __init__(self, cfg: FaceCheckConfig) -> None:
        self._cfg = cfg
        self._ears: deque[float] = deque(maxlen=30)
        self._first: np.ndarray | None = None  # normalised non-eye landmarks of the first frame
        self._yaw0: float | None = None
        self._eyes = BlinkDetector(cfg.eye_open_drop, cfg.min_open_frames)
        self.reset()

    def reset(self) -> None:
        """Forget the track (the face left the view: the next face may be someone else)."""
        self.wipe()
        self.blinked = False
        self.motion = 0.0
        self.turned = False
        self.min_ear_ratio = 1.0  # lowest EAR seen / open EAR (for logs and tests)
        self._closed = False
        self._open_frames = 0
        self._eyes.reset()

    def wipe(self) -> None:
        if self._first is not None:
            self._first.fill(0)
        self._first = None
        self._ears.clear()
        self._yaw0 = None

    @property
    def open_ear(self) -> float:
        """The open-eye EAR of this person: a high percentile, since eyes are open most of the time."""
        return float(np.percentile(self._ears, 80)) if self._ears else 0.0

    @property
    def moved(self) -> bool:
        return self.motion >= self._cfg.min_motion

    @property
    def alive(self) -> bool:
        return self.blinked and self.moved and (self.turned or not self._cfg.require_head_turn)

    def update(self, landmarks: np.ndarray, grey: np.ndarray | None = None) -> None:
        """One frame's points (5 or 68) and, for 5 points, the grey frame they were placed on."""
        if len(landmarks) == 68:
            self._blink_68(landmarks)
        elif grey is not None:
            self._eyes.update(*eyes_openness(grey, landmarks))
            self.blinked = self.blinked or self._eyes.blinked
            self.min_ear_ratio = self._eyes.min_ratio
        self._motion(landmarks)

    def _blink_68(self, landmarks: np.ndarray) -> None:
        cfg = self._cfg
        ear = mean_ear(landmarks)
        if self._open_frames >= cfg.min_open_frames and self.open_ear > 0:
            ratio = ear / self.open_ear
            self.min_ear_ratio = min(self.min_ear_ratio, ratio)
            if ratio < 1 - cfg.blink_drop:
                self._closed = True
            elif self._closed and ratio > 1 - cfg.blink_drop / 2:
                self.blinked = True  # closed, then open again: a whole blink
                self._closed = False
        if not self._closed:
            self._ears.append(ear)  # closed-eye values would drag the open level down
            self._open_frames += 1

    def _motion(self, landmarks: np.ndarray) -> None:
        cfg = self._cfg
        iod = interocular(landmarks)
        if iod > 0:
            # head motion = the face shape changing (turns, nods) or the face moving in the frame;
            # 5 points: eye corners barely move in a blink, so all five count
            pts = landmarks if len(landmarks) == 5 else landmarks[_NOT_EYES]
            centre = pts.mean(0)
            current = np.vstack([(pts - centre) / iod, centre / iod])
            if self._first is None:
                self._first = current
            else:
                change = np.abs(current - self._first)
                shape_change = float(change[:-1].mean())
                shift = float(np.linalg.norm(current[-1] - self._first[-1]))
                self.motion = max(self.motion, shape_change, shift)
        angle = yaw(landmarks)
        if self._yaw0 is None:
            self._yaw0 = angle
        elif abs(angle - self._yaw0) >= cfg.min_yaw_change:
            self.turned = True
