"""The recognition model behind a small interface, so another model can replace dlib later.

``FaceEngine`` is what the session needs from a model: find faces, place dlib's 5 points (eye
corners and nose base: following the face, the blink, motion and head turn; public domain) or, for
comparison only, the 68 iBUG 300-W landmarks (non-commercial training data), and turn a
face into an embedding compared by Euclidean distance. ``DlibEngine`` is face_recognition's dlib
models called directly, so that the session can detect on a small frame and encode at full size
from the scaled box, which face_recognition's convenience functions cannot do.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from devices.face.errors import FaceEngineError
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Box:
    """A face rectangle in pixels of the frame it was found in; may reach outside the frame."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def scaled(self, factor: float) -> Box:
        return Box(*(round(v * factor) for v in (self.left, self.top, self.right, self.bottom)))

    def shifted(self, dx: float, dy: float, scale: float = 1.0) -> Box:
        cx, cy = self.centre
        hw, hh = self.width * scale / 2, self.height * scale / 2
        cx, cy = cx + dx, cy + dy
        return Box(round(cx - hw), round(cy - hh), round(cx + hw), round(cy + hh))

    def clipped(self, width: int, height: int) -> Box:
        return Box(max(0, self.left), max(0, self.top), min(width, self.right), min(height, self.bottom))


@runtime_checkable
class FaceEngine(Protocol):
    """What a face model must offer. Images are RGB ``uint8`` arrays (H, W, 3)."""

    name: str

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[Box]:
        """Every face in the image, in its pixel coordinates."""
        ...

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 68 iBUG 300-W landmarks of the face in ``box`` as a float (68, 2) array of x, y."""
        ...

    def eye_points(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """dlib's 5-point layout as a float (5, 2) array: outer and inner corner of the eye on the
        image's right, outer and inner corner of the other eye, the nose base."""
        ...

    def encode(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """A 1-D float embedding; same person ⇔ small Euclidean distance."""
        ...


def _rect(box: Box) -> Any:
    import dlib

    return dlib.rectangle(int(box.left), int(box.top), int(box.right), int(box.bottom))


class DlibEngine:
    """face_recognition's models (HOG detector, 68/5-point shape predictors, ResNet encoder).

    Encoding aligns the face with the 5-point model exactly as ``face_recognition.face_encodings``
    does by default, so distances and the 0.6 tolerance mean the same as in face_recognition.
    The dlib objects are shared module-wide; a lock keeps calls from several threads apart.
    """

    name = "dlib"

    def __init__(self) -> None:
        self.status = StatusTracker("face", DeviceStatus.OFFLINE)
        self._lock = threading.Lock()
        self.loaded_models: list[str] = []  # model files read so far (the licence test checks this)
        try:
            import warnings

            import dlib

            with warnings.catch_warnings():
                # face_recognition_models still imports pkg_resources for its file paths
                warnings.simplefilter("ignore", UserWarning)
                import face_recognition_models as models
            # loaded directly, not through face_recognition.api, which reads the 68-point model
            # (iBUG 300-W, non-commercial) at import: that one is read only if landmarks() is used
            self._pose68_path = models.pose_predictor_model_location()
            self._detector = dlib.get_frontal_face_detector()
            self._pose5 = dlib.shape_predictor(self._load(models.pose_predictor_five_point_model_location()))
            self._encoder = dlib.face_recognition_model_v1(self._load(models.face_recognition_model_location()))
        except Exception as exc:  # missing wheel or model files: the kiosk cannot check faces
            self.status.set(DeviceStatus.HARDWARE_ERROR, f"face models not loadable: {exc}")
            raise FaceEngineError(f"cannot load face_recognition models: {exc}", device="face") from exc
        self._dlib_version = dlib.__version__
        self._pose68: Any = None
        self.status.set(DeviceStatus.ONLINE, self.probe())

    def _load(self, path: str) -> str:
        self.loaded_models.append(path)
        return path

    def probe(self) -> str:
        return f"dlib {self._dlib_version}: HOG detector, 68/5-point landmarks, ResNet-29 encoder"

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            with self._lock:
                return fn(*args)
        except Exception as exc:  # dlib raises RuntimeError on bad input or internal faults
            self.status.set(DeviceStatus.HARDWARE_ERROR, f"{what} failed: {exc}")
            raise FaceEngineError(f"dlib {what} failed: {exc}", device="face") from exc

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[Box]:
        rects = self._call("detection", self._detector, rgb, upsample)
        return [Box(r.left(), r.top(), r.right(), r.bottom()) for r in rects]

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        if self._pose68 is None:
            import dlib

            with self._lock:
                if self._pose68 is None:
                    try:
                        self._pose68 = dlib.shape_predictor(self._load(self._pose68_path))
                    except Exception as exc:  # file missing or unreadable
                        self.status.set(DeviceStatus.HARDWARE_ERROR, f"68-point model not loadable: {exc}")
                        raise FaceEngineError(f"cannot load the 68-point model: {exc}", device="face") from exc
        shape = self._call("landmarks", self._pose68, rgb, _rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def eye_points(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """dlib's 5 points (public-domain model): both corners of each eye and the nose base, (5, 2)."""
        shape = self._call("landmarks", self._pose5, rgb, _rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def encode(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        shape = self._call("landmarks", self._pose5, rgb, _rect(box))
        descriptor = self._call("encoding", self._encoder.compute_face_descriptor, rgb, shape, 1)
        return np.array(descriptor, dtype=np.float64)


@lru_cache(maxsize=1)
def default_engine() -> DlibEngine:
    """One engine per process: loading the models takes about a second and 100 MB."""
    return DlibEngine()


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
