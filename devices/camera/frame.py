"""One captured picture with what a consumer needs to know about its freshness."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A BGR image from a camera, numbered and time-stamped when the grabber received it.

    ``seq`` grows by one per frame over the whole life of a ``Camera`` (also across stop/start),
    so "newer than what I saw" is a plain integer comparison. ``timestamp`` is ``time.monotonic()``.
    The image is read-only because several consumers may hold the same frame; the repr leaves the
    pixels out because frames are biometric data and do not belong in logs.
    """

    image: np.ndarray = field(repr=False, compare=False)
    seq: int
    timestamp: float
    camera: str = ""

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order OpenCV and the configuration use."""
        return self.width, self.height

    @property
    def age(self) -> float:
        """Seconds since the grabber received the frame."""
        return time.monotonic() - self.timestamp
