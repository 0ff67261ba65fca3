"""The identity checks flows share: the face check against the card photo, run on a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled
from devices.face import FaceCheckConfig, FaceDecision, FaceEngine, FaceProgress, FaceSession, FaceState
from flows.frames import FrameSource
from flows.kiosk_session import KioskSession

FaceSessionFactory = Callable[[np.ndarray, FaceCheckConfig], Any]


def face_check(
    photo: np.ndarray,
    frames: FrameSource,
    cancel: CancelToken,
    *,
    session: KioskSession,
    config: FaceCheckConfig,
    engine: FaceEngine | None,
    on_progress: Callable[[FaceProgress], None],
    session_factory: FaceSessionFactory | None = None,
) -> FaceDecision:
    """Feed frames to a fresh FaceSession until it decides; the session is closed (wiped) in any case.

    ``session_factory`` (card photo, config) → a session with ``feed``/``decision``/``close``: the
    app passes ``FaceWorker.open_session`` so dlib runs in its own process and never holds the
    touchscreen's GIL; tests and benches leave it None and check in-process.
    """
    session.close_face()
    if session_factory is not None:
        face: Any = session_factory(photo, config)
    else:
        face = FaceSession(photo, engine=engine, config=config)
    session.face = face
    try:
        while face.decision is None:
            if cancel.cancelled:
                raise DeviceCancelled("face check cancelled", device="face")
            frame, t = frames.next_frame(cancel)
            on_progress(face.feed(frame, t))
        decision: FaceDecision = face.decision
        return decision
    finally:
        face.close()


# how far the check has come, for the screen's progress bar: a face found, matched, blinked, done
FACE_STEPS: dict[FaceState, float] = {
    FaceState.SEARCHING: 0.1,
    FaceState.CHECKING: 0.4,
    FaceState.NEED_BLINK: 0.7,
    FaceState.NEED_TURN: 0.85,
    FaceState.ACCEPTED: 1.0,
    FaceState.REJECTED: 1.0,
}


def face_view_changes(progress: FaceProgress) -> dict[str, Any]:
    """What a face-check progress changes in the flow's View (instruction, outline, progress bar)."""
    return {
        "message": progress.instruction.value,
        "params": {"state": progress.state.value, "box": box_tuple(progress)},
        "progress": FACE_STEPS.get(progress.state, 0.0),
    }


def box_tuple(progress: FaceProgress) -> tuple[int, int, int, int] | None:
    b = progress.box
    return None if b is None else (b.left, b.top, b.right, b.bottom)
