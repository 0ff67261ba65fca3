"""Camera driver: one grabber thread per camera that keeps only the newest frame.

Why a thread: a UVC camera (and an MJPEG stream) queues frames; a consumer that reads only when it
needs a picture would get one from the past and the face check would judge a person who already
moved. The grabber reads continuously and replaces the single frame it holds, so ``latest()`` is
always the newest picture and a slow consumer costs nothing but skipped frames.

Where frames come from is OpenCV's business: an ``int`` or ``/dev/videoN`` opens the UVC device
with V4L2 (FOURCC first, then the resolution, because many document cameras give 5 MP only as
MJPG); anything else (an ``http://…/stream.mjpg`` URL, a file) goes through FFmpeg with open and
read time-outs. The camera simulator serves such a URL, so simulator mode runs this same code.

Frames are biometric data: nothing here writes one to disk or logs pixels, and the held frame is
dropped when the camera goes offline or stops.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from typing import Any

import cv2

from devices.camera.errors import CameraCancelled, CameraConfigError, CameraTimeout, CameraUnavailable
from devices.camera.frame import Frame
from devices.cancel import CancelToken
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)

_POLL = 0.05  # how often a wait looks at its cancel token
_FPS_WINDOW = 30  # frames over which the delivered frame rate is measured


def _mask_source(source: int | str) -> str:
    """The source for a log line without credentials (rtsp://user:pass@host → rtsp://***@host)."""
    return re.sub(r"(?<=://)[^/@]*@", "***@", str(source))


def _fourcc_text(code: float) -> str:
    """CAP_PROP_FOURCC comes back as a float holding four packed characters."""
    value = int(code)
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else ""


class Camera:
    """A UVC camera or a stream, read by a background grabber thread.

    Status: OFFLINE until the first frame, ONLINE while frames come, OFFLINE again (with the reason
    as detail) when the source cannot be opened or stops delivering; the grabber then reopens it
    after ``reconnect_seconds``, doubling the pause after each failed attempt up to
    ``reconnect_max_seconds``, and the status goes back to ONLINE with the first new frame.
    """

    def __init__(
        self,
        source: int | str,
        *,
        name: str = "face_camera",
        width: int | None = None,
        height: int | None = None,
        fourcc: str | None = "MJPG",
        fps: float | None = None,
        reconnect_seconds: float = 2.0,
        reconnect_max_seconds: float = 30.0,
        read_timeout: float = 2.0,
        timeout: float = 3.0,
    ) -> None:
        if fourcc is not None and len(fourcc) != 4:
            raise CameraConfigError(f"FOURCC must be 4 characters, got {fourcc!r}", device=name)
        for label, value in (("width", width), ("height", height), ("fps", fps)):
            if value is not None and value <= 0:
                raise CameraConfigError(f"{label} must be positive, got {value!r}", device=name)
        if reconnect_seconds <= 0 or read_timeout <= 0 or timeout <= 0:
            raise CameraConfigError("reconnect_seconds, read_timeout and timeout must be positive", device=name)
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source.strip())  # "0" from a config file means /dev/video0
        self.source: int | str = source
        self.name = name
        self.width = width
        self.height = height
        self.fourcc = fourcc
        self.fps = fps
        self.reconnect_seconds = reconnect_seconds
        self.reconnect_max_seconds = max(reconnect_max_seconds, reconnect_seconds)
        self.read_timeout = read_timeout
        self.timeout = timeout
        self.status = StatusTracker(name)

        self._cond = threading.Condition()
        self._life = threading.Lock()  # start/stop/probe one at a time
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._frame: Frame | None = None
        self._seq = 0
        self._error: str | None = None  # why frames do not come now; None while connected
        self._times: deque[float] = deque(maxlen=_FPS_WINDOW)
        self._resolution: tuple[int, int] | None = None
        self._backend = ""
        self._delivered_fourcc = ""
        self.connects = 0  # successful opens, for the state panel and tests of the reconnect path

    # -- life cycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Camera:
        """Start the grabber; never blocks on the device and never fails because it is missing.

        A missing camera is a status (OFFLINE) that heals by itself when it is plugged in; callers
        that need a frame now learn it from ``wait_frame``/``probe`` raising ``CameraUnavailable``.
        """
        with self._life:
            if self.running:
                return self
            stop = threading.Event()  # one per run: a thread still leaving cannot see a later run's flag
            self._stop = stop
            with self._cond:
                self._error = None
                self._times.clear()
            self._thread = threading.Thread(target=self._run, args=(stop,), name=f"camera-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the grabber, release the device and forget the held frame."""
        with self._life:
            self._stop.set()
            with self._cond:
                self._cond.notify_all()
            thread, self._thread = self._thread, None
            if thread is not None:
                thread.join(timeout=self.read_timeout + 2.0)
                if thread.is_alive():
                    log.warning("camera %s: grabber still blocked in a read after stop", self.name)
            with self._cond:
                self._frame = None
                self._error = "stopped"
                self._cond.notify_all()
        self.status.set(DeviceStatus.OFFLINE, "stopped")

    def __enter__(self) -> Camera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- frames -----------------------------------------------------------------------------
    def latest(self, max_age: float | None = None) -> Frame | None:
        """The newest frame, or None when there is none (offline, stopped) or it is older than ``max_age``."""
        frame = self._frame
        if frame is None:
            return None
        if max_age is not None and time.monotonic() - frame.timestamp > max_age:
            return None
        return frame

    def wait_frame(
        self,
        after_seq: int | None = None,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> Frame:
        """Block until a frame newer than ``after_seq`` (default: newer than any frame so far) arrives.

        Raises ``CameraUnavailable`` at once when the camera is not running or is offline (a flow
        should not wait out its time-out on an unplugged camera), ``CameraTimeout`` when connected
        but nothing new came in time, ``CameraCancelled`` when ``cancel`` fires.
        """
        wait = self.timeout if timeout is None else timeout
        end = time.monotonic() + wait
        with self._cond:
            if after_seq is None:
                after_seq = self._seq
            while True:
                frame = self._frame
                if frame is not None and frame.seq > after_seq:
                    return frame
                if not self.running:
                    raise CameraUnavailable("camera is not started", code="camera.not_started", device=self.name)
                if self._error is not None:
                    raise CameraUnavailable(self._error, device=self.name)
                if cancel is not None and cancel.cancelled:
                    raise CameraCancelled("wait for a frame cancelled", device=self.name)
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise CameraTimeout(f"no new frame within {wait:.2f} s", device=self.name)
                self._cond.wait(min(remaining, _POLL) if cancel is not None else remaining)

    def probe(self, timeout: float | None = None, cancel: CancelToken | None = None) -> str:
        """Read a frame and describe the camera in one line ("640x480 MJPG 15.0 fps via FFMPEG").

        When the grabber runs this waits for its next frame; otherwise it opens the source, reads
        one frame and releases it again, so it also works before ``start()``.
        """
        if self.running:
            frame = self.wait_frame(timeout=timeout, cancel=cancel)
            return self._describe(frame.size)
        with self._life:
            try:
                cap = self._open()
            except CameraUnavailable as exc:
                self.status.set(DeviceStatus.OFFLINE, exc.message)
                raise
            try:
                ok, image = cap.read()
            finally:
                cap.release()
        if not ok or image is None:
            detail = "opened but delivered no frame"
            self.status.set(DeviceStatus.OFFLINE, detail)
            raise CameraUnavailable(detail, device=self.name)
        return self._describe((int(image.shape[1]), int(image.shape[0])))

    # -- what the camera actually does ------------------------------------------------------
    @property
    def resolution(self) -> tuple[int, int] | None:
        """(width, height) the camera really delivers (may differ from the asked size); None before a frame."""
        return self._resolution

    @property
    def measured_fps(self) -> float | None:
        """Frames per second over the last frames received; None before there are two."""
        with self._cond:
            times = list(self._times)
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    def state(self) -> dict[str, Any]:
        """A plain snapshot for the status panel and ``kiosk`` commands (no pixels)."""
        frame = self._frame
        return {
            "name": self.name,
            "source": _mask_source(self.source),
            "status": self.status.status.value,
            "detail": self.status.detail,
            "running": self.running,
            "resolution": self._resolution,
            "asked": (self.width, self.height),
            "fourcc": self._delivered_fourcc,
            "backend": self._backend,
            "fps": self.measured_fps,
            "seq": frame.seq if frame else None,
            "connects": self.connects,
        }

    def _describe(self, size: tuple[int, int]) -> str:
        parts = [f"{size[0]}x{size[1]}"]
        if self._delivered_fourcc:
            parts.append(self._delivered_fourcc)
        fps = self.measured_fps
        if fps is not None:
            parts.append(f"{fps:.1f} fps")
        if self._backend:
            parts.append(f"via {self._backend}")
        return " ".join(parts)

    # -- opening ----------------------------------------------------------------------------
    def _is_device(self) -> bool:
        return isinstance(self.source, int) or str(self.source).startswith("/dev/video")

    def _open(self) -> cv2.VideoCapture:
        """Open the source or raise ``CameraUnavailable``; the capture belongs to the caller."""
        where = _mask_source(self.source)
        try:
            if self._is_device():
                cap = cv2.VideoCapture(self.source, cv2.CAP_V4L2)
            else:
                ms = int(self.read_timeout * 1000)
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
                cap = cv2.VideoCapture(str(self.source), cv2.CAP_FFMPEG, params)
        except cv2.error as exc:
            raise CameraUnavailable(f"cannot open {where}: {exc}", device=self.name) from exc
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(f"cannot open {where}", device=self.name)
        if self._is_device():
            self._configure(cap)
        self._backend = cap.getBackendName()
        self._delivered_fourcc = _fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        return cap

    def _configure(self, cap: cv2.VideoCapture) -> None:
        """Ask a UVC device for format, size and rate; what it really gives is checked per frame."""
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer queued frames in the driver: less latency
        # FOURCC before the size: without MJPG most UVC cameras refuse 5 MP (USB 2 bandwidth of YUYV).
        if self.fourcc is not None and not cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.fourcc)):
            log.warning("camera %s: FOURCC %s not accepted", self.name, self.fourcc)
        if self.width is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps is not None:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        # Bounds a blocked read on unplug where the backend supports it; harmless where it does not.
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout * 1000))

    # -- grabber thread ---------------------------------------------------------------------
    def _run(self, stop: threading.Event) -> None:
        delay = self.reconnect_seconds
        while not stop.is_set():
            try:
                cap = self._open()
            except CameraUnavailable as exc:
                self._offline(stop, exc.message)
                if stop.wait(delay):
                    break
                delay = min(delay * 2, self.reconnect_max_seconds)
                continue
            self.connects += 1
            with self._cond:
                self._error = None
            try:
                delivered = self._pump(stop, cap)
            finally:
                cap.release()
            if stop.is_set():
                break
            self._offline(stop, "stopped delivering frames" if delivered else "opened but delivered no frame")
            if delivered:
                delay = self.reconnect_seconds  # a fresh unplug starts the back-off again
            if stop.wait(delay):
                break
            delay = min(delay * 2, self.reconnect_max_seconds)

    def _pump(self, stop: threading.Event, cap: cv2.VideoCapture) -> bool:
        """Read until the source fails or we are stopped; True if at least one frame came."""
        delivered = False
        while not stop.is_set():
            try:
                ok, image = cap.read()
            except cv2.error as exc:
                log.warning("camera %s: read failed: %s", self.name, exc)
                return delivered
            if not ok or image is None:
                return delivered
            now = time.monotonic()
            image.setflags(write=False)
            if not delivered:
                self._first_frame(image.shape[1], image.shape[0])
            with self._cond:
                if stop.is_set():
                    return delivered
                self._seq += 1
                self._frame = Frame(image, self._seq, now, self.name)
                self._times.append(now)
                self._cond.notify_all()
            if not delivered:
                delivered = True
                self.status.set(DeviceStatus.ONLINE, f"{image.shape[1]}x{image.shape[0]}")
        return delivered

    def _first_frame(self, width: int, height: int) -> None:
        self._resolution = (int(width), int(height))
        asked_w = self.width if self.width is not None else width
        asked_h = self.height if self.height is not None else height
        if (asked_w, asked_h) != (width, height):
            log.warning("camera %s: asked for %sx%s, camera gives %dx%d", self.name, asked_w, asked_h, width, height)
        log.info(
            "camera %s online: %dx%d %s via %s from %s",
            self.name,
            width,
            height,
            self._delivered_fourcc or "?",
            self._backend,
            _mask_source(self.source),
        )

    def _offline(self, stop: threading.Event, reason: str) -> None:
        """Record why frames stopped, drop the held frame (it is stale now) and wake waiters."""
        if stop.is_set():
            return
        with self._cond:
            was = self._error
            self._error = reason
            self._frame = None
            self._times.clear()
            self._cond.notify_all()
        if was != reason:
            log.warning("camera %s offline: %s", self.name, reason)
        self.status.set(DeviceStatus.OFFLINE, reason)
