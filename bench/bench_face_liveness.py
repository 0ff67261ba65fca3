"""Blink liveness with dlib's 68-point model against MediaPipe's Face Mesh (licence-clean), same frames.

For every recorded blink sequence (tests/data/face_sequences/blink_obama and the camera simulator's
assets/sim/camera/blink_*), each landmark model places the eyes on every frame; the eye aspect
ratio of each frame is divided by the open-eye level (80th percentile of the sequence, as the
liveness tracker learns it). Reported: the lowest ratio on the shut frames (05-06), the lowest on
the open frames (the noise floor), whether ``LivenessTracker`` with the kiosk's ``blink_drop``
sees the blink, and the landmark time per frame (CPU of this thread).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from devices.face import FaceCheckConfig, LivenessTracker, default_engine, mean_ear
from devices.face.mesh import mesh_engine

ROOT = Path(__file__).resolve().parent.parent
SEQUENCES = [ROOT / "tests" / "data" / "face_sequences" / "blink_obama"] + sorted(
    (ROOT / "assets" / "sim" / "camera").glob("blink_*")
)
OPEN = [0, 1, 2, 3, 8, 9, 10, 11]  # frames of synth.BLINK_SCRIPT with the eyes open
SHUT = [5, 6]


def shut_lids(rgb: np.ndarray) -> np.ndarray:
    """Frame 3 with both eyes closed cleanly: the eye opening filled with the surrounding lid skin
    (inpainting) and a lash line drawn along the lower lid, as a shut eye looks."""
    engine = default_engine()
    lm = engine.landmarks(rgb, engine.detect(rgb, 1)[0])
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for sl in (slice(36, 42), slice(42, 48)):
        eye = lm[sl]
        c = eye.mean(0)
        cv2.fillPoly(mask, [((eye - c) * 1.35 + c).round().astype(np.int32)], 255)
    out = cv2.inpaint(rgb, cv2.dilate(mask, np.ones((3, 3), np.uint8)), 5, cv2.INPAINT_TELEA)
    for idx in ([36, 41, 40, 39], [42, 47, 46, 45]):
        pts = lm[idx].copy()
        pts[1:3, 1] -= 0.3 * (lm[idx[1]][1] - lm[idx[0]][1] + 1)
        cv2.polylines(out, [pts.round().astype(np.int32)], False, (40, 30, 30), 2, cv2.LINE_AA)
    return out


def section() -> str:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    cfg = FaceCheckConfig()
    engines = {
        "dlib 68-point (iBUG 300-W, non-commercial)": default_engine(),
        "Face Mesh v1 (Apache-2.0)": mesh_engine(),
    }
    rows = []
    seen = {name: 0 for name in engines}
    for folder in SEQUENCES:
        frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.jpg"))]
        frames.append(shut_lids(frames[3]))  # frame 12: a clean shut lid
        boxes = [default_engine().detect(f, 1)[0] for f in frames]
        for name, engine in engines.items():
            start = time.thread_time()
            marks = [engine.landmarks(f, b) for f, b in zip(frames, boxes, strict=True)]
            ms = 1000 * (time.thread_time() - start) / len(frames)
            ears = np.array([mean_ear(m) for m in marks])
            live = LivenessTracker(cfg)
            for m in marks[:12]:
                live.update(m)
            seen[name] += live.blinked
            ratio = ears / np.percentile(ears[OPEN], 80)
            rows.append(
                f"| {folder.name} | {name} | {ratio[SHUT].min():.2f} | {ratio[12]:.2f} | {ratio[OPEN].min():.2f} "
                f"| {'yes' if live.blinked else 'no'} | {ms:.1f} |"
            )
    summary = ", ".join(f"{name}: {n} of {len(SEQUENCES)}" for name, n in seen.items())
    return "\n".join(
        [
            "## Face check: blink liveness by landmark model (bench_face_liveness)\n",
            "Eye aspect ratio on the shut frames and on the open frames, relative to the open-eye "
            f"level, per recorded sequence; a blink counts below {1 - cfg.blink_drop:.2f} "
            f"(`blink_drop` {cfg.blink_drop}). Blinks seen: {summary}.\n",
            "| sequence | landmark model | recorded shut / open (lowest) | clean shut lid / open "
            "| open / open (lowest) | recorded blink seen | ms/frame |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "The recorded blinks close the eyes by warping the eyelids where dlib's own points put them "
            "(a smear more than a shut lid), so a second closed frame is made per sequence with a clean "
            "shut lid (the eye opening inpainted with lid skin, a lash line drawn). On both, Face Mesh v1 "
            "measures a drop of only 11-24 %, close to its own 2-10 % noise on open eyes, where dlib's "
            "model measures 42-57 % on the recorded blinks (15-63 % on the clean lids): at 192 px input "
            "and without the attention model's refined eyes "
            "(which OpenCV cannot run), the mesh does not follow the eyelids well enough for the "
            "kiosk's blink check. The kiosk therefore keeps dlib's 68-point model for liveness (see "
            "README, Model licences); the blink check needs either a licensed model or a model "
            "trained on commercially usable data.\n",
        ]
    )


if __name__ == "__main__":
    print(section())
