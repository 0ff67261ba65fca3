"""Prepare the simulator's card photos: ``python -m devices.idcard.sim_photos``.

Crops each test face with face_recognition plus a head-and-shoulders margin, like an ID photo,
and stores 102 × 126 PNGs under ``assets/sim/idcard/`` so the simulator never needs
face_recognition at run time. Run again only when the source photos change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from devices.idcard.wlt import PHOTO_COLS, PHOTO_ROWS

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "tests" / "data" / "faces"
ASSETS = ROOT / "assets" / "sim" / "idcard"
FACES = ("obama_1", "obama_2", "biden_1", "biden_2")


def crop_face(image: np.ndarray) -> np.ndarray:
    """The largest face with room for hair and shoulders, at the card's 102:126 aspect."""
    import face_recognition  # only needed here, not by the simulator

    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    locations = face_recognition.face_locations(rgb)
    if not locations:
        raise SystemExit("no face found")
    top, right, bottom, left = max(locations, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    h = bottom - top
    crop_h = int(h * 1.9)
    crop_w = int(crop_h * PHOTO_COLS / PHOTO_ROWS)
    y0 = int(top - 0.5 * h)
    x0 = int((left + right) / 2 - crop_w / 2)
    pad = max(crop_h, crop_w)
    big = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = big[y0 + pad : y0 + pad + crop_h, x0 + pad : x0 + pad + crop_w]
    return cv2.resize(crop, (PHOTO_COLS, PHOTO_ROWS), interpolation=cv2.INTER_AREA)


def main() -> int:
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name in FACES:
        image = cv2.imread(str(SOURCES / f"{name}.jpg"))
        if image is None:
            print(f"missing {SOURCES / name}.jpg", file=sys.stderr)
            return 1
        cv2.imwrite(str(ASSETS / f"{name}.png"), crop_face(image))
        print(f"wrote {ASSETS / name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
