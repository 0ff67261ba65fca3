"""Face camera and document camera (高拍仪): UVC devices read through OpenCV.

``Camera`` is the driver (a grabber thread keeping only the newest frame); ``CameraSimulator``
serves an MJPEG stream over HTTP that the same driver opens in simulator mode.
"""

from devices.camera.errors import (
    CameraCancelled,
    CameraConfigError,
    CameraError,
    CameraTimeout,
    CameraUnavailable,
)
from devices.camera.frame import Frame
from devices.camera.grabber import Camera
from devices.camera.scenes import DOCUMENT_SIZE, FACE_SIZE, SCENES, SceneError, render_document
from devices.camera.simulator import CameraSimulator

__all__ = [
    "DOCUMENT_SIZE",
    "FACE_SIZE",
    "SCENES",
    "Camera",
    "CameraCancelled",
    "CameraConfigError",
    "CameraError",
    "CameraSimulator",
    "CameraTimeout",
    "CameraUnavailable",
    "Frame",
    "SceneError",
    "render_document",
]
