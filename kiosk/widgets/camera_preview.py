"""Live camera preview: a worker thread keeps the newest frame, the Kivy clock blits it.

The grab (camera read, JPEG decode) and the resize to preview size happen in ``FrameFeed``'s own
thread; the Kivy thread only copies a small ready-made BGR buffer into a texture at a modest rate
(15 fps by default), so face or document pipelines running elsewhere never stall the screen and
the screen never stalls them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np
from kivy.clock import Clock
from kivy.graphics import Color, Line, Rectangle
from kivy.graphics.texture import Texture
from kivy.properties import ListProperty, NumericProperty
from kivy.uix.widget import Widget

from kiosk import ui_theme
from kiosk.widgets.images import as_bgr, blit

log = logging.getLogger(__name__)

FrameSource = Callable[[], "np.ndarray | None"]


class FrameFeed:
    """Pulls frames from a callable (or a queue fed by another thread) and keeps the newest, resized.

    ``latest()`` returns ``(sequence_number, frame)``; the number changes with every new frame so
    the preview blits only when there is something new.
    """

    def __init__(
        self,
        source: FrameSource | queue.Queue[np.ndarray],
        max_size: tuple[int, int] = (640, 480),
        fps: float = 15.0,
        name: str = "camera",
    ) -> None:
        self.source = source
        self.max_size = max_size
        self.period = 1.0 / max(fps, 1.0)
        self.name = name
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def start(self) -> FrameFeed:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"preview-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def latest(self) -> tuple[int, np.ndarray | None]:
        with self._lock:
            return self._seq, self._frame

    def _grab(self) -> np.ndarray | None:
        if isinstance(self.source, queue.Queue):
            frame = None
            try:
                frame = self.source.get(timeout=self.period)
                while True:  # drain to the newest
                    frame = self.source.get_nowait()
            except queue.Empty:
                pass
            return frame
        return self.source()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                frame = self._grab()
            except Exception as exc:  # a camera driver error must not kill the preview thread
                self.errors += 1
                log.warning("preview %s: frame source failed: %s", self.name, exc)
                frame = None
            if frame is not None:
                small = self._fit(frame)
                with self._lock:
                    self._frame = small
                    self._seq += 1
            rest = self.period - (time.monotonic() - started)
            if rest > 0:
                self._stop.wait(rest)

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        scale = min(self.max_size[0] / w, self.max_size[1] / h, 1.0)
        if scale < 1.0:
            frame = cv2.resize(frame, (max(4, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        return as_bgr(frame)


class CameraPreview(Widget):
    """Shows the newest frame of a ``FrameFeed`` with an outline from the View.

    ``face_box`` is ``[x, y, w, h]`` and ``page_quad`` four ``[x, y]`` corners, all as fractions of
    the frame with the origin top-left, so a flow does not need to know the preview size.
    """

    face_box = ListProperty([])
    page_quad = ListProperty([])
    fps = NumericProperty(15.0)
    frames_shown = NumericProperty(0)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.feed: FrameFeed | None = None
        self._texture: Texture | None = None
        self._seq = -1
        self._event = None
        with self.canvas:
            Color(0.15, 0.15, 0.17, 1)
            self._bg = Rectangle(pos=self.pos, size=self.size)
            Color(1, 1, 1, 1)
            self._rect = Rectangle(pos=self.pos, size=(0, 0))
        self._overlay_due = False
        self.bind(pos=self._layout, size=self._layout, face_box=self._overlay_later, page_quad=self._overlay_later)

    def attach(self, feed: FrameFeed | None) -> None:
        """Show this feed (None: a dark box) and start polling it at ``fps``."""
        self.feed = feed
        self._seq = -1
        if self._event is not None:
            self._event.cancel()
            self._event = None
        if feed is not None:
            self._event = Clock.schedule_interval(self._poll, 1.0 / max(self.fps, 1.0))

    def detach(self) -> None:
        self.attach(None)

    def _poll(self, _dt: float) -> None:
        if self.feed is None:
            return
        seq, frame = self.feed.latest()
        if frame is None or seq == self._seq:
            return
        self._seq = seq
        self._overlay_due = False  # _layout below redraws it with this frame
        self._texture = blit(self._texture, frame)
        self._rect.texture = self._texture
        self.frames_shown += 1
        self._layout()

    def _image_rect(self) -> tuple[float, float, float, float]:
        if self._texture is None:
            return self.x, self.y, self.width, self.height
        tw, th = self._texture.size
        scale = min(self.width / tw, self.height / th)
        w, h = tw * scale, th * scale
        return self.center_x - w / 2, self.center_y - h / 2, w, h

    def _layout(self, *_: object) -> None:
        self._bg.pos, self._bg.size = self.pos, self.size
        x, y, w, h = self._image_rect()
        if self._texture is not None:
            self._rect.pos, self._rect.size = (x, y), (w, h)
        self._overlay()

    def _point(self, fx: float, fy: float) -> tuple[float, float]:
        x, y, w, h = self._image_rect()
        return x + fx * w, y + (1.0 - fy) * h

    def _overlay_later(self, *_: object) -> None:
        """A new outline is drawn with the next camera frame, not on its own.

        Progress Views (face box, page outline) arrive between camera frames; drawing each at once
        would add a whole-window redraw per View on top of the 15 per second of the preview, which
        on a software-rendered screen is what makes the preview stutter. With no frames coming
        (no feed, or a camera that stopped) it is drawn on the next clock tick instead.
        """
        self._overlay_due = True
        if self._event is None:
            Clock.schedule_once(self._overlay_if_due, 0)
        else:
            Clock.schedule_once(self._overlay_if_due, 2.0 / max(self.fps, 1.0))  # the frame did not come

    def _overlay_if_due(self, *_: object) -> None:
        if self._overlay_due:
            self._overlay_due = False
            self._overlay()

    def _overlay(self, *_: object) -> None:
        self.canvas.after.clear()
        width = max(2.0, min(self.width, self.height) / 120)
        with self.canvas.after:
            Color(*ui_theme.OUTLINE)
            if len(self.face_box) == 4:
                fx, fy, fw, fh = (float(v) for v in self.face_box)
                cx, cy = self._point(fx + fw / 2, fy + fh / 2)
                _, _, w, h = self._image_rect()
                Line(ellipse=(cx - fw * w / 2, cy - fh * h / 2, fw * w, fh * h), width=width)
            if len(self.page_quad) == 4:
                points: list[float] = []
                for corner in self.page_quad:
                    points.extend(self._point(float(corner[0]), float(corner[1])))
                Line(points=points, close=True, width=width)


def normalised_box(box: Sequence[float], frame_size: tuple[int, int]) -> list[float]:
    """(left, top, width, height) in pixels → fractions of the frame, as Views carry them."""
    w, h = frame_size
    return [box[0] / w, box[1] / h, box[2] / w, box[3] / h]
