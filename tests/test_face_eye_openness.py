"""Blinks seen without the 68-point (non-commercial) model: 5 eye corners + the eye patch's gradients.

Real recorded frames through dlib's public-domain 5-point model; the blink must be found on the
recordings, and no blink on a photo held up or moved about (made from the same open frames).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.face import FaceCheckConfig
from devices.face.eye_openness import BlinkDetector, eyes_openness

ROOT = Path(__file__).resolve().parent.parent
SEQUENCES = [
    ROOT / "tests" / "data" / "face_sequences" / "blink_obama",
    ROOT / "assets" / "sim" / "camera" / "blink_biden_2",
]


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201 - dlib engine, loaded once
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from devices.face import default_engine

    return default_engine()


def frames(folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(folder.glob("*.jpg"))]


def openness(engine, bgr_frames: list[np.ndarray]) -> list[tuple[float, float]]:  # noqa: ANN001
    out = []
    for bgr in bgr_frames:
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        box = engine.detect(rgb, 1)[0]
        out.append(eyes_openness(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), engine.eye_points(rgb, box)))
    return out


def blinked(values: list[tuple[float, float]]) -> bool:
    detector = BlinkDetector(FaceCheckConfig().eye_open_drop)
    for left, right in values:
        detector.update(left, right)
    return detector.blinked


@pytest.mark.parametrize("folder", SEQUENCES, ids=lambda p: p.name)
def test_recorded_blink_is_seen_from_the_eye_corners_alone(engine, folder: Path) -> None:  # noqa: ANN001
    values = openness(engine, frames(folder))
    assert blinked(values)
    # the shut frames (05, 06) are clearly below the open frames on both eyes, not at the edge
    open_level = np.percentile(np.array(values)[[0, 1, 2, 3, 8, 9, 10, 11]], 80, axis=0)
    assert (np.array(values)[[5, 6]] / open_level).max() < 1 - FaceCheckConfig().eye_open_drop


def test_photo_held_up_or_moved_does_not_blink(engine) -> None:  # noqa: ANN001
    recorded = frames(SEQUENCES[0])
    held = [recorded[i] for i in (0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3)]
    assert not blinked(openness(engine, held))
    h, w = recorded[0].shape[:2]
    moved = []
    for k in range(12):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 3 * np.sin(k / 2), 1 + 0.04 * np.sin(k / 3))
        m[:, 2] += (4 * k - 20, 2 * np.cos(k))
        moved.append(cv2.warpAffine(recorded[0], m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    assert not blinked(openness(engine, moved))


def test_a_long_closure_is_not_a_blink() -> None:
    """Eyes shut for many frames (dozing, looking down) and opened again is not counted as a blink."""
    detector = BlinkDetector(0.3)
    for v in [1.0, 1.0, 1.0] + [0.2] * 10 + [1.0, 1.0]:
        detector.update(v, v)
    assert not detector.blinked
    detector.reset()
    for v in [1.0, 1.0, 1.0, 0.2, 0.2, 1.0]:
        detector.update(v, v)
    assert detector.blinked


def test_blink_and_match_without_reading_the_68_point_file() -> None:
    """The 68-point model (iBUG 300-W, non-commercial) is read only when its landmarks are asked for:
    finding the face, the eye corners, the eye openness and the embedding never open it."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from devices.face.engine import DlibEngine

    engine = DlibEngine()  # fresh: the shared one may have served a 68-point caller already
    values = openness(engine, frames(SEQUENCES[0]))
    rgb = cv2.cvtColor(frames(SEQUENCES[0])[0], cv2.COLOR_BGR2RGB)
    assert engine.encode(rgb, engine.detect(rgb, 1)[0]).shape == (128,)
    assert blinked(values)
    names = [Path(p).name for p in engine.loaded_models]
    assert "shape_predictor_5_face_landmarks.dat" in names
    assert "shape_predictor_68_face_landmarks.dat" not in names
    engine.landmarks(rgb, engine.detect(rgb, 1)[0])  # the comparison path does read it, once
    assert [Path(p).name for p in engine.loaded_models].count("shape_predictor_68_face_landmarks.dat") == 1


def test_a_whole_face_check_accepts_the_blinking_resident_without_the_68_point_file() -> None:
    """The default check (follow, blink, motion, match) never reads the non-commercial model."""
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from devices.face import FaceSession, FaceState
    from devices.face.engine import DlibEngine

    engine = DlibEngine()
    card = cv2.imread(str(ROOT / "assets" / "sim" / "idcard" / "obama_1.png"))
    with FaceSession(card, engine=engine) as session:
        states = [session.feed(f, 100 + i * 0.1).state for i, f in enumerate(frames(SEQUENCES[0]))]
        assert session.decision is not None and session.decision.accepted
    assert FaceState.NEED_BLINK in states and states[-1] is FaceState.ACCEPTED
    assert "shape_predictor_68_face_landmarks.dat" not in [Path(p).name for p in engine.loaded_models]
