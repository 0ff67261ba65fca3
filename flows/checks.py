"""The identity checks flows share: the face check against the card photo, run on a worker thread."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled
from devices.face import FaceCheckConfig, FaceDecision, FaceEngine, FaceProgress, FaceSession
from flows.frames import FrameSource
from flows.kiosk_session import KioskSession


def face_check(
    photo: np.ndarray,
    frames: FrameSource,
    cancel: CancelToken,
    *,
    session: KioskSession,
    config: FaceCheckConfig,
    engine: FaceEngine | None,
    on_progress: Callable[[FaceProgress], None],
) -> FaceDecision:
    """Feed frames to a fresh FaceSession until it decides; the session is closed (wiped) in any case."""
    session.close_face()
    face = FaceSession(photo, engine=engine, config=config)
    session.face = face
    try:
        while face.decision is None:
            if cancel.cancelled:
                raise DeviceCancelled("face check cancelled", device="face")
            frame, t = frames.next_frame(cancel)
            on_progress(face.feed(frame, t))
        return face.decision
    finally:
        face.close()


def box_tuple(progress: FaceProgress) -> tuple[int, int, int, int] | None:
    b = progress.box
    return None if b is None else (b.left, b.top, b.right, b.bottom)
