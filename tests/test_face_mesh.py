"""MediaPipe's Face Mesh (Apache-2.0) run by OpenCV, as the 68-point layout the face check uses.

The model file ships in assets/models (from the mediapipe 0.10.21 wheel, see SOURCE.md there);
nothing is downloaded. These tests check that its points land where dlib's do on the real test
photos, that the face check runs on it, and what it cannot do yet (bench_face_liveness).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.face import FaceCheckConfig, FaceEngine, FaceSession, FaceState, default_engine
from devices.face.errors import FaceEngineError
from devices.face.liveness import interocular
from devices.face.mesh import MODEL, MeshLandmarks, mesh_engine

DATA = Path(__file__).parent / "data"
MODEL_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"  # as in the wheel

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


def test_the_model_is_the_one_from_the_apache_licensed_wheel() -> None:
    assert hashlib.sha256(MODEL.read_bytes()).hexdigest() == MODEL_SHA256
    assert (MODEL.parent / "LICENSE.mediapipe").read_text().lstrip().startswith("Apache License")


@pytest.mark.parametrize("name", ["obama_1", "obama_2", "biden_1", "biden_2"])
def test_mesh_points_land_where_dlibs_do(name: str) -> None:
    bgr = cv2.imread(str(DATA / "faces" / f"{name}.jpg"))
    bgr = cv2.resize(bgr, None, fx=640 / max(bgr.shape[:2]), fy=640 / max(bgr.shape[:2]))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    dlib = default_engine()
    box = max(dlib.detect(rgb, 1), key=lambda b: b.width)
    ours, theirs = mesh_engine().landmarks(rgb, box), dlib.landmarks(rgb, box)
    assert ours.shape == (68, 2)
    iod = interocular(theirs)
    for part in (slice(36, 42), slice(42, 48), [30], [48, 54]):  # each eye, the nose tip, mouth corners
        assert np.linalg.norm(ours[part].mean(0) - theirs[part].mean(0)) < 0.15 * iod, (name, part)


def test_the_face_check_tracks_and_matches_with_mesh_landmarks() -> None:
    frames = [cv2.imread(str(p)) for p in sorted((DATA / "face_sequences" / "blink_obama").glob("*.jpg"))]
    card = cv2.imread(str(Path(__file__).parents[1] / "assets" / "sim" / "idcard" / "obama_1.png"))
    engine = mesh_engine()
    assert isinstance(engine, FaceEngine)
    # the mesh's 68-point layout drives tracking only on the 68-point comparison path
    with FaceSession(card, engine=engine, config=FaceCheckConfig(landmarks68=True)) as session:
        states = [session.feed(f, 100 + i * 0.1).state for i, f in enumerate(frames)]
    assert FaceState.NEED_BLINK in states  # found, followed and matched; the blink is the open question


def test_a_missing_model_file_is_a_typed_engine_error(tmp_path) -> None:
    with pytest.raises(FaceEngineError, match="face mesh model missing"):
        MeshLandmarks(tmp_path / "nothing.tflite")
