"""Face landmarks from MediaPipe's Face Mesh model (Apache-2.0), as a licence-clean alternative to
dlib's 68-point model for tracking and blink liveness.

Why: dlib's ``shape_predictor_68_face_landmarks.dat`` was trained on iBUG 300-W, whose licence
excludes commercial use, and the kiosks are sold by a vendor to towns. MediaPipe's Face Mesh v1
model (``face_landmark.tflite``, 468 points, Apache-2.0) ships inside the ``mediapipe`` 0.10.21
wheel on PyPI (``mediapipe/modules/face_landmark/``; from 0.10.30 on the wheels carry no models).
The ``mediapipe`` package itself cannot be installed here: 0.10.21 pins ``numpy<2`` and
``opencv-contrib-python``, against the kiosk's numpy 2 and OpenCV 5. So the model file is kept in
``assets/models/`` (with its licence and provenance, see SOURCE.md there) and run with OpenCV's own
TFLite importer (``cv2.dnn.readNetFromTFLite``): nothing is downloaded at run time and no new
dependency is needed. The attention variant (refined eyes and irises) uses MediaPipe custom
operators OpenCV does not have, so it is not usable this way.

``MeshLandmarks.landmarks`` answers in the 68-point iBUG layout (a standard mapping of mesh
vertices), so the tracker, the eye aspect ratio, the motion and the head-turn checks work
unchanged. ``MeshEngine`` is the kiosk's engine with these landmarks: dlib's HOG detector (code,
Boost licence), 5-point aligner and ResNet encoder (dlib-models: public domain) stay.

Measured limit (bench/bench_face_liveness.py): on the recorded blink sequences, which close the
eyes by warping the eyelids where dlib's own points put them, the mesh's eye aspect ratio drops by
11-24 % against dlib's 42-57 %, under the 30 % the blink check needs. Whether real blinks (a fully
closed eye) give the mesh enough depth must be measured on real recordings before it replaces
dlib's model for liveness; ``FaceCheckConfig.blink_drop`` is the knob.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from devices.face.engine import Box, DlibEngine
from devices.face.errors import FaceEngineError

MODEL = Path(__file__).resolve().parents[2] / "assets" / "models" / "mediapipe_face_landmark.tflite"
INPUT = 192  # the model's square input, RGB scaled to 0-1
ROI_SCALE = 1.5  # MediaPipe's crop: the landmarks' box enlarged 1.5× (face_landmark_landmarks_to_roi)

# mesh vertex for each iBUG 300-W point (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67)
MESH_TO_IBUG68 = np.array(
    [162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
     71, 63, 105, 66, 107, 336, 296, 334, 293, 301,
     168, 197, 5, 4, 75, 97, 2, 326, 305,
     33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
     61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87],
    dtype=np.intp,
)  # fmt: skip


class MeshLandmarks:
    """The Face Mesh model run by OpenCV: 468 points of one face, given a box around it."""

    def __init__(self, model: Path = MODEL) -> None:
        if not model.is_file():
            raise FaceEngineError(f"face mesh model missing: {model}", device="face")
        try:
            self._net = cv2.dnn.readNetFromTFLite(str(model))
        except cv2.error as exc:
            raise FaceEngineError(f"face mesh model not loadable: {exc}", device="face") from exc
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._lock = threading.Lock()

    def _run(self, rgb: np.ndarray, cx: float, cy: float, size: float) -> np.ndarray:
        s = INPUT / size
        m = np.array([[s, 0, INPUT / 2 - cx * s], [0, s, INPUT / 2 - cy * s]], np.float64)
        crop = cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        with self._lock:
            self._net.setInput(cv2.dnn.blobFromImage(crop, 1.0 / 255.0))
            outs = self._net.forward(self._outputs)
        mesh = next(o for o in outs if o.size == 468 * 3).reshape(468, 3)[:, :2].astype(np.float64)
        crop.fill(0)
        return mesh / s + np.array([cx - size / 2, cy - size / 2])

    def mesh(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """468 (x, y) points in ``rgb`` pixels. Two passes, as MediaPipe tracks: a crop from the
        detector's box, then a crop from the first pass's own points (the model expects the face
        framed as its tracking frames it)."""
        cx, cy = box.centre
        first = self._run(rgb, cx, cy, box.width * 1.7)
        (x0, y0), (x1, y1) = first.min(0), first.max(0)
        return self._run(rgb, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * ROI_SCALE)

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The face's 68 points in the iBUG 300-W layout, from the mesh."""
        return self.mesh(rgb, box)[MESH_TO_IBUG68]


class MeshEngine(DlibEngine):
    """dlib's detector and encoder with Face Mesh landmarks: no model with a non-commercial licence."""

    name = "dlib+mesh"

    def __init__(self) -> None:
        super().__init__()
        self._mesh = MeshLandmarks()

    def probe(self) -> str:
        return "dlib HOG detector, 5-point aligner, ResNet encoder; MediaPipe Face Mesh v1 landmarks (Apache-2.0)"

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        try:
            return self._mesh.landmarks(rgb, box)
        except cv2.error as exc:
            raise FaceEngineError(f"face mesh landmarks failed: {exc}", device="face") from exc


@lru_cache(maxsize=1)
def mesh_engine() -> MeshEngine:
    return MeshEngine()
