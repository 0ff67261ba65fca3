"""Where a flow's camera frames come from: the real grabber, or recorded frames for tests and benches.

The face check and the document pipeline always run for real; only the source of the pixels
changes, so a flow test exercises exactly the code a resident meets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from devices.camera import Camera, CameraCancelled
from devices.cancel import CancelToken
from flows.errors import FlowError


class FrameSource(Protocol):
    def next_frame(self, cancel: CancelToken | None = None) -> tuple[np.ndarray, float]:
        """The next new frame and its time (seconds, monotonic in the source's own clock)."""
        ...

    def latest(self) -> np.ndarray | None:
        """The newest frame without taking it (for a live overlay), or None when there is none."""
        ...


class CameraFrames:
    """Frames from a running ``Camera`` (grabber thread), each newer than the last one handed out."""

    def __init__(self, camera: Camera, timeout: float | None = None) -> None:
        self.camera = camera
        self.timeout = timeout
        self._seq: int | None = None

    def next_frame(self, cancel: CancelToken | None = None) -> tuple[np.ndarray, float]:
        frame = self.camera.wait_frame(self._seq, self.timeout, cancel)
        self._seq = frame.seq
        return np.array(frame.image), frame.timestamp

    def latest(self) -> np.ndarray | None:
        frame = self.camera.latest(max_age=2.0)
        return None if frame is None else np.asarray(frame.image)


class RecordedFrames:
    """A fixed sequence played at ``interval`` seconds of *frame* time (no sleeping), then repeated."""

    def __init__(self, frames: Sequence[np.ndarray], interval: float = 0.1, *, repeat: bool = True) -> None:
        if not frames:
            raise FlowError("RecordedFrames needs at least one frame")
        self.frames = list(frames)
        self.interval = interval
        self.repeat = repeat
        self.served = 0
        self._t = 1000.0

    def next_frame(self, cancel: CancelToken | None = None) -> tuple[np.ndarray, float]:
        if cancel is not None and cancel.cancelled:
            raise CameraCancelled("frame wait cancelled", device="recorded")
        if not self.repeat and self.served >= len(self.frames):
            raise CameraCancelled("recorded frames exhausted", device="recorded")
        frame = self.frames[self.served % len(self.frames)]
        self.served += 1
        self._t += self.interval
        return frame.copy(), self._t

    def latest(self) -> np.ndarray | None:
        """The frame the next ``next_frame`` would hand out, without advancing."""
        if not self.repeat and self.served >= len(self.frames):
            return None
        return self.frames[self.served % len(self.frames)]

    def replace(self, frames: Sequence[np.ndarray]) -> None:
        """Show something else from now on (a test's resident puts another paper down)."""
        self.frames = list(frames)
        self.served = 0
