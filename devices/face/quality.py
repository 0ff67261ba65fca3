"""Why a frame cannot be used, and what the screen should ask the resident to do about it.

Each refusal has its own reason so that the screen says "move closer" rather than "failed". The
enum values are the message keys the UI translates; ``hint`` is the English text for logs.
"""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

from devices.face.config import FaceCheckConfig
from devices.face.engine import Box


class FaceIssue(StrEnum):
    """Why the current frame is refused (value = UI message key)."""

    NO_FACE = "face.issue.no_face"
    MULTIPLE_FACES = "face.issue.multiple_faces"
    TOO_SMALL = "face.issue.too_small"
    TOO_LARGE = "face.issue.too_large"
    PARTIAL = "face.issue.partial"
    OFF_CENTRE = "face.issue.off_centre"
    TOO_DARK = "face.issue.too_dark"
    TOO_BRIGHT = "face.issue.too_bright"
    BLURRED = "face.issue.blurred"

    @property
    def message_key(self) -> str:
        return self.value

    @property
    def instruction(self) -> FaceInstruction:
        return _ISSUE_INSTRUCTION[self]


class FaceInstruction(StrEnum):
    """What the screen asks of the resident now (value = UI message key)."""

    LOOK_AT_CAMERA = "face.hint.look_at_camera"
    ONE_PERSON = "face.hint.one_person"
    MOVE_CLOSER = "face.hint.move_closer"
    MOVE_BACK = "face.hint.move_back"
    MOVE_TO_CENTRE = "face.hint.move_to_centre"
    MORE_LIGHT = "face.hint.more_light"  # "step into the light / take off the hat"
    LESS_LIGHT = "face.hint.less_light"  # "step out of the direct light"
    HOLD_STILL = "face.hint.hold_still"
    HOLD_ON = "face.hint.hold_on"  # checking, keep looking at the camera
    BLINK = "face.hint.blink"
    TURN_HEAD = "face.hint.turn_head"
    DONE = "face.hint.done"
    SEE_STAFF = "face.hint.see_staff"

    @property
    def message_key(self) -> str:
        return self.value


_ISSUE_INSTRUCTION = {
    FaceIssue.NO_FACE: FaceInstruction.LOOK_AT_CAMERA,
    FaceIssue.MULTIPLE_FACES: FaceInstruction.ONE_PERSON,
    FaceIssue.TOO_SMALL: FaceInstruction.MOVE_CLOSER,
    FaceIssue.TOO_LARGE: FaceInstruction.MOVE_BACK,
    FaceIssue.PARTIAL: FaceInstruction.MOVE_TO_CENTRE,
    FaceIssue.OFF_CENTRE: FaceInstruction.MOVE_TO_CENTRE,
    FaceIssue.TOO_DARK: FaceInstruction.MORE_LIGHT,
    FaceIssue.TOO_BRIGHT: FaceInstruction.LESS_LIGHT,
    FaceIssue.BLURRED: FaceInstruction.HOLD_STILL,
}


def brightness(grey: np.ndarray, box: Box | None) -> float:
    """Mean grey level of the inner face (or the whole frame when there is no face)."""
    if box is not None:
        h, w = grey.shape
        # the central part: hair, background and a dark beard would skew the mean
        inner = box.shifted(0, 0, 0.6).clipped(w, h)
        if inner.width > 0 and inner.height > 0:
            grey = grey[inner.top : inner.bottom, inner.left : inner.right]
    return float(grey.mean())


def sharpness(grey: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian on the face scaled to 128 px wide.

    Scaling first makes the figure independent of how far the resident stands; a small face
    blown up to 128 px is also less sharp, which is what matters for the encoder.
    """
    h, w = grey.shape
    b = box.clipped(w, h)
    if b.width < 8 or b.height < 8:
        return 0.0
    crop = grey[b.top : b.bottom, b.left : b.right]
    size = (128, max(8, round(128 * b.height / b.width)))
    crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if b.width > 128 else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def face_width(landmarks: np.ndarray) -> float:
    """Face width in frame pixels from the full-resolution landmarks: jaw corner to jaw corner.

    The detector's box comes from the 320-px copy and dlib's image pyramid, so its width moves in
    steps of about 20 % (72/88/104/124/150/178/216 px on a 640-px frame): a 129-px face measured
    124 px and was sent away as too small. The jaw span (iBUG points 0 and 16) is placed on the
    full frame and changes smoothly with distance; on the test photos it is 0.89-1.07 × the box
    width face_recognition's detector gives at full resolution, so the same fraction applies.
    """
    if len(landmarks) == 5:  # outer eye corners, scaled to a jaw width (liveness.JAW_PER_EYE_SPAN)
        return float(np.linalg.norm(landmarks[0] - landmarks[2])) * 1.68
    return float(np.linalg.norm(landmarks[16] - landmarks[0]))


def geometry_issue(
    box: Box, width: int, height: int, cfg: FaceCheckConfig, size: float | None = None
) -> FaceIssue | None:
    """Size and position of the face in the frame: cheap, so checked first.

    ``size`` is the face width measured on the full frame (``face_width``); without it the box
    width stands in. A face too small is not a failure: the screen asks to come closer, shows the
    outline where the face is, and the check keeps watching until the resident has come closer.
    """
    margin = 0.05 * box.width  # dlib boxes poke a little out of tight crops; a real cut is bigger
    if box.left < -margin or box.top < -margin or box.right > width + margin or box.bottom > height + margin:
        return FaceIssue.PARTIAL
    fraction = (box.width if size is None else size) / width
    if fraction < cfg.min_face_fraction:
        return FaceIssue.TOO_SMALL
    if fraction > cfg.max_face_fraction:
        return FaceIssue.TOO_LARGE
    cx, cy = box.centre
    if abs(cx - width / 2) > cfg.max_offcentre * width or abs(cy - height / 2) > cfg.max_offcentre * height:
        return FaceIssue.OFF_CENTRE
    return None


def image_issue(grey: np.ndarray, box: Box, cfg: FaceCheckConfig) -> FaceIssue | None:
    """Light and focus inside the face box."""
    level = brightness(grey, box)
    if level < cfg.min_brightness:
        return FaceIssue.TOO_DARK
    if level > cfg.max_brightness:
        return FaceIssue.TOO_BRIGHT
    if sharpness(grey, box) < cfg.min_sharpness:
        return FaceIssue.BLURRED
    return None


def no_face_issue(grey: np.ndarray, cfg: FaceCheckConfig) -> FaceIssue:
    """No face found: say "more light" rather than "look at the camera" when the frame is dark."""
    level = brightness(grey, None)
    if level < cfg.min_brightness:
        return FaceIssue.TOO_DARK
    if level > cfg.max_brightness:
        return FaceIssue.TOO_BRIGHT
    return FaceIssue.NO_FACE
