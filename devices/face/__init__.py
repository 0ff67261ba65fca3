"""Face check against the ID-card photo, with liveness (blink, motion, optional head turn).

Pure computation on numpy BGR frames; the camera driver lives in ``devices.camera``. Typical use
in a flow's worker thread::

    with FaceSession(card_photo_bgr, config=cfg) as session:
        for frame, t in camera_frames():
            progress = session.feed(frame, t)
            show(progress.instruction, progress.box)
            if session.decision:
                break
    decision = session.decision
"""

from devices.face.config import FaceCheckConfig
from devices.face.engine import Box, DlibEngine, FaceEngine, default_engine, face_distance
from devices.face.errors import (
    FaceCardPhotoError,
    FaceEngineError,
    FaceError,
    FaceFrameError,
    FaceSessionClosed,
)
from devices.face.liveness import LivenessTracker, eye_aspect_ratio, mean_ear, yaw
from devices.face.quality import FaceInstruction, FaceIssue
from devices.face.session import FaceDecision, FaceProgress, FaceRejectReason, FaceSession, FaceState
from devices.face.worker import FaceWorker, FaceWorkerGone, FaceWorkerTimeout, RemoteFaceSession

__all__ = [
    "Box",
    "DlibEngine",
    "FaceCardPhotoError",
    "FaceCheckConfig",
    "FaceDecision",
    "FaceEngine",
    "FaceEngineError",
    "FaceError",
    "FaceFrameError",
    "FaceInstruction",
    "FaceIssue",
    "FaceProgress",
    "FaceRejectReason",
    "FaceSession",
    "FaceSessionClosed",
    "FaceState",
    "FaceWorker",
    "FaceWorkerGone",
    "FaceWorkerTimeout",
    "LivenessTracker",
    "RemoteFaceSession",
    "default_engine",
    "eye_aspect_ratio",
    "face_distance",
    "mean_ear",
    "yaw",
]
