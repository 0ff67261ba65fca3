"""The face check in its own process, so that dlib never holds the Kivy process's GIL.

dlib does not release the GIL while it detects, places landmarks or encodes, so a ``FaceSession``
fed from a thread of the app stalls the touchscreen (p99 frame interval 2.8× the idle preview in
``bench/bench_ui.py``). ``FaceWorker`` keeps one persistent worker process per kiosk that loads the
models once and serves one ``FaceSession`` at a time; ``RemoteFaceSession`` is what callers hold
instead of a ``FaceSession`` and has the same surface (``feed``, ``decision``, ``close``).

Why it is built this way:

* The "spawn" start method: forking a process that has SDL/GL/Kivy initialised copies driver
  state and locks into the child. Spawn starts a fresh interpreter that imports only this module
  (and the parent's ``__main__`` file when that is a script: keep Kivy imports under the
  ``if __name__ == "__main__"`` guard, as the ``kiosk`` console script does).
* Frames travel through one ``multiprocessing.shared_memory`` buffer sized for the frame; per frame
  the app only copies the frame into it and sends a tuple of a few numbers over a ``Pipe``. The
  answer (a ``FaceProgress`` and the ``FaceDecision`` once there is one) is equally small.
* Biometrics stay in memory: the card photo crosses the pipe once, the worker's ``FaceSession``
  zeroes its encodings on ``close()``, the app zeroes the shared frame buffer on ``close()`` and
  when the worker dies, and ``stop()`` unlinks the segment. Nothing is written to disk.
* A worker that dies (crash, OOM kill) makes the next call raise ``FaceWorkerGone`` (a
  ``FaceEngineError`` with recovery RESET) and turns the status to HARDWARE_ERROR; ``start()`` or
  ``ensure_running()`` brings it back. A call without an answer within ``call_timeout`` raises
  ``FaceWorkerTimeout`` (a ``DeviceTimeout``); the worker is then killed, because a late answer
  would be taken for the answer to the next question.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from types import TracebackType
from typing import Any

import numpy as np

from devices.cpu_priority import IDLE, set_process_priority, this_thread_policy
from devices.errors import DeviceTimeout, KioskError, Recovery
from devices.face.config import FaceCheckConfig
from devices.face.errors import FaceEngineError, FaceError, FaceFrameError, FaceSessionClosed
from devices.face.session import FaceDecision, FaceProgress
from devices.lifeline import die_with_parent
from devices.process_errors import error_reply, rebuild_error
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)

SHM_PREFIX = "kiosk_face_"  # shared-memory segment names: kiosk_face_<app pid>_<n> (in /dev/shm)
PATIENCE = 6  # a starved but working worker is waited for up to this many call time-outs


class FaceWorkerGone(FaceEngineError):
    """The face worker process is not running (never started, stopped, crashed or killed).

    Restarting the worker (``FaceWorker.start()``/``ensure_running()``) recovers it; the session
    that was running is lost with the process, so the flow opens a new one.
    """

    code = "face.worker_gone"
    recovery = Recovery.RESET


class FaceWorkerTimeout(FaceError, DeviceTimeout):
    """The worker did not answer in time; it has been stopped and must be started again."""

    code = "face.worker_timeout"
    recovery = Recovery.RESET


# -- the worker process ------------------------------------------------------------------------


def _error_reply(exc: BaseException) -> tuple[Any, ...]:
    return error_reply(exc, "face")


def _serve(conn: Connection, priority_setting: int | str | None = None, parent_pid: int | None = None) -> None:
    """Entry point of the worker process: load the models, then answer requests until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the app's terminal: the app stops us
    die_with_parent(parent_pid)  # a killed app leaves no worker behind (devices/lifeline.py)
    # set before dlib and OpenCV start their threads, which inherit it (devices/cpu_priority.py)
    priority = this_thread_policy() if priority_setting is None else set_process_priority(priority_setting)
    wanted = "SCHED_IDLE" if priority_setting == IDLE else f"nice {priority_setting}"
    if priority_setting is not None and priority != wanted:  # the kernel said no: the app logs it too
        priority += f" ({wanted} refused)"
    import cv2

    # OpenCV's share of a frame (colour conversion, resizing, eye patches) is under a millisecond:
    # its thread pool would only wake a second core, the one the touchscreen is drawing on
    cv2.setNumThreads(1)
    from devices.face.engine import default_engine
    from devices.face.session import FaceSession

    try:
        engine = default_engine()
        conn.send(("ready", f"{engine.probe()}; priority {priority}"))
    except BaseException as exc:  # noqa: BLE001 - reported to the app, which raises a typed error
        conn.send(_error_reply(exc))
        return

    session: FaceSession | None = None
    session_id = 0
    shm: SharedMemory | None = None

    def drop_session() -> None:
        nonlocal session
        if session is not None:
            session.close()
            session = None

    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):  # the app is gone: wipe and leave
                return
            op = msg[0]
            try:
                if op == "feed":
                    _, sid, shm_name, shape, t = msg
                    if session is None or sid != session_id:
                        raise FaceSessionClosed("the face session is closed", device="face")
                    if shm is None or shm.name != shm_name:
                        if shm is not None:
                            shm.close()
                            shm = None
                        shm = SharedMemory(name=shm_name)
                    frame = np.ndarray(shape, dtype=np.uint8, buffer=shm.buf)
                    try:
                        progress = session.feed(frame, t)
                    finally:
                        del frame  # a live view would keep shm.close() from working
                    conn.send(("ok", (progress, session.decision)))
                elif op == "open":
                    _, sid, card, config = msg
                    drop_session()
                    try:
                        session = FaceSession(card, engine=engine, config=config)
                        session_id = sid
                    finally:
                        if isinstance(card, np.ndarray):
                            card.fill(0)
                    conn.send(("ok", None))
                elif op == "close":
                    if msg[1] == session_id:
                        drop_session()
                    conn.send(("ok", None))
                elif op == "probe":
                    conn.send(("ok", f"{engine.probe()}; priority {this_thread_policy()}; worker pid {os.getpid()}"))
                elif op == "stop":
                    drop_session()
                    conn.send(("ok", None))
                    return
                else:
                    conn.send(_error_reply(FaceEngineError(f"face worker: unknown request {op!r}", device="face")))
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller, typed
                conn.send(_error_reply(exc))
    finally:
        drop_session()
        if shm is not None:
            shm.close()


# -- the app side ------------------------------------------------------------------------------


def _rebuild_error(reply: tuple[Any, ...]) -> KioskError:
    return rebuild_error(reply, FaceEngineError, "face")


class FaceWorker:
    """One persistent face-check process per kiosk; open sessions on it with ``open_session``.

    Thread-safe: one request is on the pipe at a time. One session at a time: opening a new one
    closes (wipes) the previous one, whose ``feed`` then raises ``FaceSessionClosed`` — a flow that
    forgot to close must not keep the next resident from being checked, nor keep the previous
    resident's card photo alive.

    ``priority``: the worker's CPU priority for its whole life, a nice value or ``"idle"``
    (``SCHED_IDLE``); None keeps the priority of the thread that starts it. The kiosk passes
    ``[face] worker_nice`` (0 by default): a resident waits for this work, and between checks the
    worker is blocked on its pipe and costs nothing (devices/cpu_priority.py says why not
    ``SCHED_IDLE``). ``background=True`` is ``priority="idle"``.
    """

    _names = itertools.count(1)

    def __init__(
        self,
        *,
        start_timeout: float = 30.0,
        call_timeout: float = 10.0,
        background: bool = False,
        priority: int | str | None = None,
    ) -> None:
        self.start_timeout = start_timeout
        self.call_timeout = call_timeout
        self.priority: int | str | None = IDLE if background else priority
        self.status = StatusTracker("face")
        self._lock = threading.RLock()
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._generation = 0  # bumped at every start: sessions of an older worker are gone
        self._session_ids = itertools.count(1)
        self._session: RemoteFaceSession | None = None
        self._shm: SharedMemory | None = None
        self._shm_view: np.ndarray | None = None
        self._description = ""
        self._down: str | None = None  # why the worker is not running, once it died or timed out

    # -- life cycle --------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> None:
        """Start the worker and wait until the models are loaded; no-op when it already runs."""
        with self._lock:
            if self.alive:
                return
            self._reap()
            ctx = multiprocessing.get_context("spawn")
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(
                target=_serve, args=(child, self.priority, os.getpid()), name="face-worker", daemon=True
            )
            proc.start()
            child.close()  # only the worker holds its end: its death reads as EOF here
            self._proc, self._conn = proc, parent
            self._generation += 1
            try:
                reply = self._receive(self.start_timeout, "starting the face worker")
            except KioskError:
                self._kill()
                raise
            if reply[0] != "ready":
                self._kill()
                err = _rebuild_error(reply)
                self.status.set(DeviceStatus.HARDWARE_ERROR, err.message)
                raise err
            self._description = f"{reply[1]}; worker pid {proc.pid}"
            self._down = None
            self._session = None  # a session of an earlier worker died with it
            if " refused)" in self._description:  # never fatal: the check still works, only later or slower
                log.warning("face worker priority not applied (raising it needs LimitNICE=): %s", self._description)
            log.info("face worker started: %s", self._description)
            self.status.set(DeviceStatus.ONLINE, self._description)

    def ensure_running(self) -> None:
        """Start the worker again if it died; what a flow calls before a face check."""
        self.start()

    def stop(self) -> None:
        """Stop the worker, wipe and unlink the shared frame buffer; idempotent.

        A start() still waiting for the models holds the lock for up to ``start_timeout``: stopping
        (the app closing, Ctrl-C in `make run`) first kills that worker, so start() reads EOF, raises
        and lets go, instead of the app's exit waiting for models it will never use.
        """
        if not self._lock.acquire(timeout=0.5):
            starting = self._proc
            if starting is not None and starting.is_alive():
                starting.kill()
            self._lock.acquire()
        try:
            self._stop_locked()
        finally:
            self._lock.release()

    def _stop_locked(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session._closed = True
                self._session = None
            if self.alive and self._conn is not None:
                try:
                    self._conn.send(("stop",))
                    if self._conn.poll(5.0):
                        self._conn.recv()
                except (EOFError, OSError):
                    pass
                assert self._proc is not None
                self._proc.join(5.0)
            self._kill()
            self._free_shm()
            self._down = None
            self.status.set(DeviceStatus.OFFLINE, "face worker stopped")

    def probe(self) -> str:
        """Ask the worker itself (a round trip), returning the model and the worker's pid."""
        reply = self._call(("probe",), self.call_timeout, "face worker probe")
        return str(reply)

    def __enter__(self) -> FaceWorker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- sessions ----------------------------------------------------------------------------

    def open_session(
        self,
        card_photo_bgr: np.ndarray,
        config: FaceCheckConfig = FaceCheckConfig(),  # noqa: B008 - frozen, so sharing is safe
        *,
        timeout: float | None = None,
    ) -> RemoteFaceSession:
        """Start one resident's check in the worker (encodes the card photo there)."""
        with self._lock:
            if self._session is not None:
                log.warning("face session opened while another was open: closing the previous one")
                self._close_session(self._session)
            sid = next(self._session_ids)
            card = np.array(card_photo_bgr, copy=True) if isinstance(card_photo_bgr, np.ndarray) else card_photo_bgr
            try:
                self._call(("open", sid, card, config), timeout, "opening a face session")
            finally:
                if isinstance(card, np.ndarray):
                    card.fill(0)
            session = RemoteFaceSession(self, sid, self._generation)
            self._session = session
            self.status.set(DeviceStatus.BUSY, "face check running")
            return session

    def _feed(self, session: RemoteFaceSession, frame: np.ndarray, t: float, timeout: float | None) -> Any:
        with self._lock:
            self._check_open(session)
            if not (
                isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
            ):
                desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
                raise FaceFrameError(f"camera frame must be an 8-bit BGR image, got {desc}", device="face")
            view = self._frame_buffer(frame.shape)
            np.copyto(view, frame)
            return self._call(("feed", session._sid, self._shm_name(), frame.shape, float(t)), timeout, "face feed")

    def _close_session(self, session: RemoteFaceSession) -> None:
        with self._lock:
            if session._closed:
                return
            session._closed = True
            if self._session is not session:
                return
            self._session = None
            self._wipe_frame()
            if session._generation == self._generation and self.alive:
                try:
                    self._call(("close", session._sid), None, "closing the face session")
                except KioskError as exc:  # worker died or was stopped: the data went with it
                    log.warning("face session close: %s", exc)
                else:
                    self.status.set(DeviceStatus.ONLINE, self._description)

    def _check_open(self, session: RemoteFaceSession) -> None:
        if session._generation != self._generation:
            raise FaceSessionClosed("the face worker was restarted: open a new session", device="face")
        if session._closed or (self._session is not session and self.alive):
            raise FaceSessionClosed("the face session is closed", device="face")

    # -- shared memory -----------------------------------------------------------------------

    def _frame_buffer(self, shape: tuple[int, ...]) -> np.ndarray:
        if self._shm_view is None or self._shm_view.shape != shape:
            self._free_shm()
            nbytes = int(np.prod(shape))
            self._shm = SharedMemory(name=f"{SHM_PREFIX}{os.getpid()}_{next(self._names)}", create=True, size=nbytes)
            self._shm_view = np.ndarray(shape, dtype=np.uint8, buffer=self._shm.buf)
        return self._shm_view

    def _shm_name(self) -> str:
        assert self._shm is not None
        return self._shm.name

    def _wipe_frame(self) -> None:
        if self._shm_view is not None:
            self._shm_view.fill(0)

    def _free_shm(self) -> None:
        self._wipe_frame()
        self._shm_view = None
        if self._shm is not None:
            shm, self._shm = self._shm, None
            shm.close()
            with contextlib.suppress(FileNotFoundError):
                shm.unlink()

    # -- the pipe ----------------------------------------------------------------------------

    def _call(self, request: tuple[Any, ...], timeout: float | None, what: str) -> Any:
        with self._lock:
            if not self.alive or self._conn is None:
                raise self._gone(what)
            try:
                self._conn.send(request)
            except (OSError, EOFError):
                raise self._gone(what) from None
            reply = self._receive(self.call_timeout if timeout is None else timeout, what, patient=timeout is None)
            if reply[0] == "ok":
                return reply[1]
            raise _rebuild_error(reply)

    def _worker_cpu_s(self) -> float | None:
        """CPU seconds the worker process has used so far (all its threads), or None if unknown."""
        if self._proc is None or self._proc.pid is None:
            return None
        try:
            with open(f"/proc/{self._proc.pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, ValueError, IndexError):
            return None

    def _receive(self, timeout: float, what: str, patient: bool = False) -> tuple[Any, ...]:
        """The worker's answer within ``timeout``; ``patient``: longer while the worker is working.

        While other programs keep the cores busy the worker may get little CPU (at ``SCHED_IDLE``
        none at all; at nice 0 a share, beside many busy programs a small one) and a frame can take
        longer than ``call_timeout``. A worker whose CPU time still grows is starved, not hung, and
        killing it would cost the resident the try for nothing: a patient wait (the default
        timeout) goes on in ``timeout`` steps as long as the worker makes progress, up to
        ``PATIENCE`` × ``timeout``. A stopped or deadlocked worker uses no CPU and is stopped after
        ``timeout`` as before. An explicit timeout is always kept exactly.
        """
        assert self._conn is not None
        try:
            waited, cpu = 0.0, self._worker_cpu_s() if patient else None
            while not self._conn.poll(timeout):
                waited += timeout
                now = self._worker_cpu_s() if patient else None
                if now is not None and cpu is not None and now > cpu and waited < PATIENCE * timeout:
                    log.warning("%s: face worker slow (starved of CPU, %.1f s so far); still waiting", what, waited)
                    cpu = now
                    continue
                self._kill()
                self._session = None
                self._wipe_frame()
                self._down = f"face worker gave no answer within {waited:.2f} s and was stopped"
                self.status.set(DeviceStatus.HARDWARE_ERROR, self._down)
                raise FaceWorkerTimeout(
                    f"{what}: no answer from the face worker within {waited:.2f} s; worker stopped", device="face"
                )
            return self._conn.recv()
        except (EOFError, OSError):
            raise self._gone(what) from None

    def _gone(self, what: str) -> FaceWorkerGone:
        """The worker is not there: reap it, wipe the frame buffer, report HARDWARE_ERROR (died) or
        OFFLINE (never started or stopped)."""
        if self._proc is not None:
            self._proc.join(1.0)
            self._down = f"face worker died (exit code {self._proc.exitcode})"
            self._reap()
            self._session = None
            self.status.set(DeviceStatus.HARDWARE_ERROR, self._down)
            log.error("%s: %s", what, self._down)
        self._wipe_frame()
        detail = self._down or "face worker not running"
        return FaceWorkerGone(f"{what}: {detail}; start it again", device="face")

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5.0)
        self._reap()

    def _reap(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None and not self._proc.is_alive():
            self._proc.close()
            self._proc = None


class RemoteFaceSession:
    """A ``FaceSession`` living in the worker; same calls, each one a round trip to the worker."""

    def __init__(self, worker: FaceWorker, sid: int, generation: int) -> None:
        self._worker = worker
        self._sid = sid
        self._generation = generation
        self._closed = False
        self._decision: FaceDecision | None = None

    @property
    def decision(self) -> FaceDecision | None:
        return self._decision

    def feed(self, frame_bgr: np.ndarray, t: float, *, timeout: float | None = None) -> FaceProgress:
        """Judge one preview frame taken at time ``t``; blocks for the worker's answer."""
        progress, decision = self._worker._feed(self, frame_bgr, t, timeout)
        self._decision = decision
        return progress

    def close(self) -> None:
        """Wipe the session in the worker and zero the shared frame buffer; idempotent, never raises
        because the worker died (its memory is gone with it)."""
        self._worker._close_session(self)

    @property
    def closed(self) -> bool:
        return self._closed or self._generation != self._worker._generation

    def __enter__(self) -> RemoteFaceSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
