"""Synthesise kiosk-camera frames from the real test photos (test and benchmark helper).

Why synthesised: the test set has single photos, not video. Every frame here is a real photo
placed into a 640 × 480 kiosk-camera frame; the blink sequence closes the eyes by warping the
eyelid skin down over the eye (where dlib's own landmarks say the eye is) and adds small head
motion. The tests then check with dlib that the closed-eye frames really do measure as closed,
so nothing here is assumed. Run ``python tests/data/face_sequences/synth.py`` to rewrite the
stored sequences: the face tests' ``blink_obama`` here and the camera simulator's blink scenes in
``assets/sim/camera`` (one per single-face photo, see ``SEQUENCES``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
FACES = HERE.parent / "faces"
SIM_CAMERA = HERE.parents[2] / "assets" / "sim" / "camera"
FRAME_W, FRAME_H = 640, 480


def load_photo(name: str, max_side: int = 640) -> np.ndarray:
    """A test photo (BGR), shrunk so that its longer side is ``max_side``."""
    image = cv2.imread(str(FACES / f"{name}.jpg"))
    if image is None:
        raise FileNotFoundError(FACES / f"{name}.jpg")
    scale = max_side / max(image.shape[:2])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def face_box(photo_bgr: np.ndarray) -> tuple[int, int, int, int]:
    """left, top, right, bottom of the largest face, by face_recognition's plain HOG detector."""
    import face_recognition

    rgb = cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2RGB)
    boxes = face_recognition.face_locations(rgb)
    top, right, bottom, left = max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0]))
    return left, top, right, bottom


def place(
    photo_bgr: np.ndarray,
    box: tuple[int, int, int, int],
    face_width: float,
    centre: tuple[float, float],
    size: tuple[int, int] = (FRAME_W, FRAME_H),
) -> np.ndarray:
    """Scale and move the photo so that its face is ``face_width`` px wide at ``centre``."""
    left, top, right, bottom = box
    s = face_width / (right - left)
    fx, fy = (left + right) / 2, (top + bottom) / 2
    m = np.array([[s, 0, centre[0] - s * fx], [0, s, centre[1] - s * fy]], dtype=np.float64)
    return cv2.warpAffine(photo_bgr, m, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def card_photo(photo_bgr: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A 102 × 126 ID-card-like crop: head and shoulders, face about 60 % of the width."""
    left, top, right, bottom = box
    w = (right - left) / 0.62
    cx, cy = (left + right) / 2, (top + bottom) / 2
    s = 102 / w
    m = np.array([[s, 0, 51 - s * cx], [0, s, 126 * 0.52 - s * cy]], dtype=np.float64)
    return cv2.warpAffine(photo_bgr, m, (102, 126), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def jitter(frame: np.ndarray, dx: float, dy: float, angle: float, scale: float = 1.0) -> np.ndarray:
    """Small head motion: shift, roll and distance change about the frame centre."""
    m = cv2.getRotationMatrix2D((frame.shape[1] / 2, frame.shape[0] / 2), angle, scale)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def _lid(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1])


def close_eyes(frame: np.ndarray, landmarks: np.ndarray, amount: float) -> np.ndarray:
    """Lower both upper eyelids by ``amount`` (0 open … 1 shut) using the 68 landmarks.

    For every column of the eye the skin between the brow and the upper lid is stretched down to
    the new lid line, which covers the eyeball as a real lid does; a thin dark line marks the
    lashes where the lids meet. The effect fades out past the eye corners so no seam shows.
    """
    out = frame.copy()
    h, w = frame.shape[:2]
    for eye in (landmarks[36:42], landmarks[42:48]):
        corner_l, corner_r = eye[0], eye[3]
        eye_w = corner_r[0] - corner_l[0]
        upper = np.array([eye[0], eye[1], eye[2], eye[3]])
        lower = np.array([eye[0], eye[5], eye[4], eye[3]])
        x0 = int(max(0, corner_l[0] - 0.35 * eye_w))
        x1 = int(min(w - 1, corner_r[0] + 0.35 * eye_w))
        top = int(max(0, min(eye[1][1], eye[2][1]) - 0.6 * eye_w))
        bottom = int(min(h - 1, max(eye[4][1], eye[5][1]) + 0.25 * eye_w))
        xs = np.arange(x0, x1 + 1, dtype=np.float64)
        # inside the corners the lid closes fully; outside it fades out over 0.35 eye widths
        fade = np.clip(1 - np.maximum(corner_l[0] - xs, xs - corner_r[0]) / (0.35 * eye_w), 0, 1)
        fade = np.where((xs >= corner_l[0]) & (xs <= corner_r[0]), 1.0, fade) ** 1.5
        y_up = _lid(upper, xs)
        y_low = _lid(lower, xs) + 0.12 * (y_up - _lid(lower, xs))  # lids meet just above the lower lid
        y_new = y_up + amount * fade * (y_low - y_up)
        ys = np.arange(top, bottom + 1, dtype=np.float64)[:, None]
        # rows top…y_new show the skin top…y_up stretched; rows below y_new are untouched
        stretch = (y_up - top) / np.maximum(y_new - top, 1e-6)
        src_y = np.where(ys <= y_new, top + (ys - top) * stretch, ys)
        src_x = np.broadcast_to(xs, src_y.shape)
        patch = cv2.remap(
            frame,
            src_x.astype(np.float32),
            src_y.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        lash = np.exp(-(((ys - y_new) / 1.2) ** 2)) * (amount * fade) * 0.55
        patch = (patch.astype(np.float64) * (1 - lash[..., None])).clip(0, 255).astype(np.uint8)
        out[top : bottom + 1, x0 : x1 + 1] = patch
    return out


def landmarks68(frame_bgr: np.ndarray) -> np.ndarray:
    """The first 48 of dlib's 68 landmarks (jaw, brows, nose, eyes) in iBUG order."""
    import face_recognition

    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    marks = face_recognition.face_landmarks(rgb, model="large")[0]
    order = [
        "chin",
        "left_eyebrow",
        "right_eyebrow",
        "nose_bridge",
        "nose_tip",
        "left_eye",
        "right_eye",
        "top_lip",
        "bottom_lip",
    ]
    points = [p for key in order for p in marks[key]]
    # the lips are left out: face_recognition regroups them with overlaps
    return np.array(points[:48], dtype=np.float64)


# head motion (dx, dy px, roll degrees, scale) and eye closure of each frame of the blink sequence
BLINK_SCRIPT = [
    (0, 0, 0.0, 1.00, 0.0),
    (2, 1, 0.4, 1.00, 0.0),
    (4, 1, 0.8, 1.01, 0.0),
    (5, 2, 1.0, 1.01, 0.0),
    (6, 2, 1.2, 1.01, 0.5),
    (6, 3, 1.2, 1.02, 1.0),
    (7, 3, 1.3, 1.02, 1.0),
    (7, 3, 1.2, 1.02, 0.5),
    (6, 2, 1.0, 1.01, 0.0),
    (5, 2, 0.8, 1.01, 0.0),
    (4, 1, 0.6, 1.01, 0.0),
    (3, 1, 0.4, 1.00, 0.0),
]


def blink_sequence(name: str = "obama_1", face_width: float = 200, lid_gain: float = 1.0) -> list[np.ndarray]:
    """Frames of one person looking at the camera, moving a little and blinking once.

    ``lid_gain`` scales every frame's eye closure (above 1 the upper lid is pulled a little past
    the lower lid's line): for a photo whose open eyes are already narrow, dlib's landmarks follow
    the warped lid only part of the way and the shut frames need a stronger warp to measure shut.
    """
    photo = load_photo(name)
    base = place(photo, face_box(photo), face_width, (FRAME_W / 2, FRAME_H / 2 - 10))
    marks = landmarks68(base)
    frames = []
    for dx, dy, angle, scale, closure in BLINK_SCRIPT:
        frame = close_eyes(base, marks, closure * lid_gain) if closure > 0 else base
        frames.append(jitter(frame, dx, dy, angle, scale))
    return frames


# (source photo, folder, JPEG quality, lid gain) of every stored blink sequence. The simulator's
# folders are the scenes ``blink_<photo>`` of devices/camera/scenes.py (obama_1's is
# ``blink_card_holder``, a byte-for-byte copy of the tests' one); they are stored at a lower quality
# to stay small (the simulator re-encodes every frame at its own quality anyway). biden_2 smiles
# with narrow eyes (open EAR ≈ 0.2): at gain 1 its shut frames measure only 0.67 of open in dlib,
# too near the face check's 0.7, at 1.4 they measure 0.57.
SEQUENCES = (
    ("obama_1", HERE / "blink_obama", 92, 1.0),
    ("obama_1", SIM_CAMERA / "blink_card_holder", 92, 1.0),
    ("obama_2", SIM_CAMERA / "blink_obama_2", 80, 1.0),
    ("biden_1", SIM_CAMERA / "blink_biden_1", 80, 1.0),
    ("biden_2", SIM_CAMERA / "blink_biden_2", 80, 1.4),
)


def write_sequence(frames: list[np.ndarray], out: Path, quality: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for i, frame in enumerate(frames):
        cv2.imwrite(str(out / f"{i:02d}.jpg"), frame, params)


def main() -> int:
    made: dict[tuple[str, float], list[np.ndarray]] = {}
    for name, out, quality, gain in SEQUENCES:
        if (name, gain) not in made:
            made[name, gain] = blink_sequence(name, lid_gain=gain)
        write_sequence(made[name, gain], out, quality)
        print(f"wrote {len(made[name, gain])} frames of {name} to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
