"""Regenerates the camera simulator's face pictures: `python -m devices.camera.sim_assets`.

Each single-person photo from tests/data/faces is cropped to 640 × 480 around the face so the face
is as wide as a resident's at the kiosk (about 38 % of the frame, inside the face check's 20–80 %
window and near the centre). Needs face_recognition (a development-time tool only: the simulator
itself just reads the JPEGs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "data" / "faces"
TARGET = ROOT / "assets" / "sim" / "camera"
FRAME_W, FRAME_H = 640, 480
FACE_SHARE = 0.38


def kiosk_framing(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Crop (padding with edge pixels where the photo ends) so the face spans FACE_SHARE of the width."""
    top, right, bottom, left = box
    face_w = right - left
    crop_w = int(face_w / FACE_SHARE)
    crop_h = crop_w * FRAME_H // FRAME_W
    cx, cy = (left + right) // 2, (top + bottom) // 2 + face_w // 10
    pad = max(crop_w, crop_h)
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    x0, y0 = cx - crop_w // 2 + pad, cy - crop_h // 2 + pad
    crop = padded[y0 : y0 + crop_h, x0 : x0 + crop_w]
    return cv2.resize(crop, (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)


def main() -> int:
    import face_recognition

    for name in ("obama_1", "obama_2", "biden_1", "biden_2"):
        image = cv2.imread(str(SOURCE / f"{name}.jpg"))
        boxes = face_recognition.face_locations(image[:, :, ::-1].copy())
        if len(boxes) != 1:
            print(f"{name}: expected one face, found {len(boxes)}", file=sys.stderr)
            return 1
        out = kiosk_framing(image, boxes[0])
        cv2.imwrite(str(TARGET / f"{name}.jpg"), out, [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"{name}.jpg written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
