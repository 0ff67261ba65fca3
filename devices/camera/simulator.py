"""Camera simulator: an MJPEG-over-HTTP stream on 127.0.0.1 that the real driver opens.

Why HTTP MJPEG: it is a "wire" OpenCV already speaks (the FFmpeg backend opens
``http://…/stream.mjpg``), so in simulator mode only the camera's ``source`` changes and the
driver's whole path — open, grab, decode, reconnect — runs unchanged, as with a serial device
behind a pty. Each part is ``--boundary``, ``Content-Type: image/jpeg``, ``Content-Length`` and
the JPEG, paced at ``fps``.

The picture is a scene (a list of frames played in a loop) switched at run time with
``ctl_show``; ``ctl_unplug`` closes the listening socket and drops every connection, so the driver
sees what an unplugged camera looks like (the stream ends, reopening fails) until ``ctl_plug``.
``ctl_stall`` keeps the connection open but sends nothing, like a camera that hangs.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devices.camera.scenes import SCENES, SceneError, build_scene, load_path
from devices.sim_actions import SimulatorActions

log = logging.getLogger(__name__)

BOUNDARY = "kioskframe"
STREAM_PATHS = ("/stream.mjpg", "/")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class CameraSimulator(SimulatorActions):
    """A simulated UVC camera reachable as ``self.url`` until ``stop()``.

    ``size`` forces every scene to one frame size (e.g. (2592, 1944) for a document camera);
    without it face scenes are 640x480 and the document scene is 2592x1944.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        fps: float = 15,
        size: tuple[int, int] | None = None,
        name: str = "camera",
        scene: str = "nobody",
        quality: int = 85,
    ) -> None:
        if fps <= 0:
            raise SceneError(f"fps must be positive, got {fps!r}")
        self.name = name
        self.fps = float(fps)
        self.size = tuple(size) if size is not None else None
        self.quality = quality
        self._port = port
        self._initial_scene = scene
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._scene_name = ""
        self._jpegs: list[bytes] = []
        self._frame_size: tuple[int, int] = (0, 0)
        self._scene_started = 0.0
        self._plugged = False
        self._stalled = False
        self._generation = 0  # bumped on unplug/stop: every stream started before it ends
        self.frames_sent = 0
        self.connections = 0  # stream requests served, so a test can see the driver reconnect

    # -- life cycle -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """What the driver's ``source`` is set to in simulator mode."""
        return f"http://127.0.0.1:{self._port}/stream.mjpg"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> CameraSimulator:
        if not self._jpegs:
            self.ctl_show(scene=self._initial_scene)
        self._plugged = True
        if self._server is None:
            self._listen()
        log.info("%s simulator streaming on %s", self.name, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and drop every connection."""
        self._plugged = False
        self._close()

    def __enter__(self) -> CameraSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listen(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one stream per connection, ended by closing it

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
                log.debug("%s simulator: " + format, owner.name, *args)

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                if self.path.split("?")[0] not in STREAM_PATHS:
                    self.send_error(404, "only /stream.mjpg is served")
                    return
                owner._stream(self)

        server = _Server(("127.0.0.1", self._port), Handler)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sim-{self.name}", daemon=True
        )
        self._thread.start()

    def _close(self) -> None:
        with self._lock:
            self._generation += 1
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            clients = list(self._clients)
        for sock in clients:  # wakes handlers blocked in a write and ends their streams
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None

    # -- wire -------------------------------------------------------------------------------
    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        sock = handler.connection
        with self._lock:
            self._clients.add(sock)
            self.connections += 1
            generation = self._generation
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            handler.send_header("Cache-Control", "no-cache, no-store")
            handler.send_header("Pragma", "no-cache")
            handler.end_headers()
            period = 1.0 / self.fps
            due = time.monotonic()
            while self._plugged and generation == self._generation:
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                due = max(due + period, time.monotonic() - period)  # no burst after a slow write
                if self._stalled:
                    continue
                jpeg = self._current_jpeg()
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                handler.wfile.write(head.encode("ascii") + jpeg + b"\r\n")
                handler.wfile.flush()
                self.frames_sent += 1
        except OSError:
            pass  # the driver went away or we were unplugged
        finally:
            with self._lock:
                self._clients.discard(sock)

    def _current_jpeg(self) -> bytes:
        with self._lock:
            jpegs, started = self._jpegs, self._scene_started
        index = int((time.monotonic() - started) * self.fps) % len(jpegs)
        return jpegs[index]

    def _encode(self, frames: list[np.ndarray]) -> list[bytes]:
        out = []
        for image in frames:
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                raise SceneError("a scene frame could not be encoded as JPEG")
            out.append(buf.tobytes())
        return out

    # -- control (simulator panel, ``kiosk sim``, tests) -------------------------------------
    def ctl_show(self, scene: str | None = None, path: str | None = None) -> dict[str, Any]:
        """Show a named scene (see ``ctl_scenes``) or pictures from a path (image, folder of images, video)."""
        if (scene is None) == (path is None):
            raise SceneError("give exactly one of scene=<name> or path=<file or folder>")
        size = self.size
        frames = build_scene(scene, size) if scene is not None else load_path(path or "", size)
        jpegs = self._encode(frames)
        label = scene if scene is not None else str(Path(path or ""))
        new_size = (int(frames[0].shape[1]), int(frames[0].shape[0]))
        with self._lock:
            resized = bool(self._jpegs) and new_size != self._frame_size
            self._jpegs = jpegs
            self._scene_name = label
            self._frame_size = new_size
            self._scene_started = time.monotonic()
            if resized:
                # OpenCV keeps the size a stream opened with and rescales later frames to it; a real
                # camera changes mode only on a new connection, so end the streams: the driver
                # reconnects and sees the true size.
                self._generation += 1
        log.info("%s simulator shows %s (%d frame(s))", self.name, label, len(jpegs))
        return {"scene": label, "frames": len(jpegs), "size": self._frame_size}

    def ctl_scenes(self) -> dict[str, str]:
        """The named scenes with their descriptions."""
        return {name: s.description for name, s in SCENES.items()}

    def ctl_unplug(self) -> dict[str, Any]:
        """Pull the cable: close the listening port and drop every stream."""
        self._plugged = False
        self._close()
        return {"plugged": False}

    def ctl_plug(self) -> dict[str, Any]:
        """Plug the camera back in on the same URL."""
        self._plugged = True
        if self._server is None:
            self._listen()
        return {"plugged": True, "url": self.url}

    def ctl_stall(self, stalled: bool = True) -> dict[str, Any]:
        """Keep connections open but send no frames (stalled=false resumes)."""
        self._stalled = bool(stalled)
        return {"stalled": self._stalled}

    def ctl_state(self) -> dict[str, Any]:
        """What the simulator serves now."""
        with self._lock:
            clients = len(self._clients)
            frames = len(self._jpegs)
        return {
            "url": self.url,
            "plugged": self._plugged and self._server is not None,
            "stalled": self._stalled,
            "scene": self._scene_name,
            "frames": frames,
            "size": self._frame_size,
            "fps": self.fps,
            "clients": clients,
            "connections": self.connections,
            "frames_sent": self.frames_sent,
        }
