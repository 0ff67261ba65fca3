"""The page pipeline in its own process at background priority, so the touchscreen keeps its frames.

Why a process and not a background thread: straightening, enhancing and checking a 5 MP photo and
JPEG-encoding the pages for the PDF are mostly native code, but the Python between the calls holds
the GIL. A thread lowered to ``SCHED_IDLE`` that holds the GIL while the screen's rendering takes
every core cannot run to release it, and the Kivy thread waits behind it (a priority inversion).
In a process of its own the scan shares nothing with the Kivy thread but the CPU, and yields that
at once (``devices/cpu_priority.py``). Measured in ``bench/bench_ui.py``.

``DocumentWorker.scan`` and ``.pdf`` block the calling worker thread (never the Kivy thread) until
the answer comes, the ``cancel`` token fires or ``call_timeout`` passes. A worker that died (OOM
kill, crash) is restarted once for the call; errors come back typed (``devices.process_errors``).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import img2pdf
import numpy as np

from devices.cancel import CancelToken
from devices.cpu_priority import make_this_process_background, this_thread_policy
from devices.document.errors import DocumentError, PdfWriteError
from devices.document.pdf import encode_jpeg
from devices.document.scanner import ScannedPage, ScanOptions, scan_page
from devices.errors import DeviceCancelled, DeviceTimeout, Recovery
from devices.lifeline import die_with_parent
from devices.process_errors import error_reply, rebuild_error

log = logging.getLogger(__name__)


class DocumentWorkerGone(DocumentError):
    """The document worker process died and could not be started again."""

    code = "document.worker_gone"
    recovery = Recovery.RESET


class DocumentWorkerTimeout(DocumentError, DeviceTimeout):
    """The worker did not answer in time; it is stopped and started again for the next call."""

    code = "document.worker_timeout"
    recovery = Recovery.RETRY


# -- in the worker process --------------------------------------------------------------------------


def _start(background: bool, parent_pid: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the app's terminal: the app stops us
    die_with_parent(parent_pid)  # a killed app leaves no worker behind (devices/lifeline.py)
    if background:
        make_this_process_background()


def _policy() -> tuple[Any, ...]:
    return ("ok", this_thread_policy())


def _scan(frame: np.ndarray, options: ScanOptions | None) -> tuple[Any, ...]:
    try:
        return ("ok", scan_page(frame, options=options))
    except BaseException as exc:  # noqa: BLE001 - sent back typed, raised in the app
        return error_reply(exc, "document")


def _pdf(pages: Sequence[tuple[np.ndarray, float]]) -> tuple[Any, ...]:
    try:
        pdf = img2pdf.convert([encode_jpeg(image, dpi) for image, dpi in pages])
        if pdf is None:
            raise PdfWriteError("img2pdf returned nothing", device="document")
        return ("ok", pdf)
    except BaseException as exc:  # noqa: BLE001
        return error_reply(exc, "document")


# -- in the app -------------------------------------------------------------------------------------


def pages_pdf(pages: Sequence[tuple[np.ndarray, float]]) -> bytes:
    """One PDF of the given (image, dpi) pages, in this process (tests, and without a worker)."""
    reply = _pdf(pages)
    if reply[0] != "ok":
        raise rebuild_error(reply, PdfWriteError, "document")
    return bytes(reply[1])


class DocumentWorker:
    """One spawned process for page scans and PDFs; start it once, call it from worker threads."""

    def __init__(self, *, background: bool = True, call_timeout: float = 30.0) -> None:
        self.background = background
        self.call_timeout = call_timeout
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def start(self) -> DocumentWorker:
        with self._lock:
            if self._pool is None:
                ctx = multiprocessing.get_context("spawn")
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=ctx, initializer=_start, initargs=(self.background, os.getpid())
                )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish, and wait (bounded) until it and the pool's manager thread are gone.

        ``shutdown(wait=False)`` alone returns while the manager thread still waits for the process:
        a closed runtime would leave a thread (and for a moment a 150 MB process) behind, which a
        restart in the same process then piles on. A worker still busy after ``timeout`` is killed.
        """
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        manager = getattr(pool, "_executor_manager_thread", None)
        if manager is None:
            return
        manager.join(timeout)
        if manager.is_alive():
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
            manager.join(timeout)

    def __enter__(self) -> DocumentWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def probe(self) -> str:
        """The worker's scheduling (e.g. ``SCHED_IDLE``); starts it when needed."""
        return str(self._call(_policy, (), None, "probe"))

    def scan(
        self, frame: np.ndarray, options: ScanOptions | None = None, cancel: CancelToken | None = None
    ) -> ScannedPage:
        """``scan_page`` in the worker process."""
        page = self._call(_scan, (frame, options), cancel, "page scan")
        assert isinstance(page, ScannedPage)
        return page

    def pdf(self, pages: Sequence[tuple[np.ndarray, float]], cancel: CancelToken | None = None) -> bytes:
        """One PDF of (image, dpi) pages, JPEG-encoded in the worker process."""
        return bytes(self._call(_pdf, (list(pages),), cancel, "PDF"))

    def _call(self, fn: Any, args: tuple[Any, ...], cancel: CancelToken | None, what: str) -> Any:
        for attempt in (1, 2):
            pool = self.start()._pool
            assert pool is not None
            try:
                future = pool.submit(fn, *args)
                reply = self._wait(future, cancel, what)
            except BrokenProcessPool as exc:
                log.warning("document worker died during %s (%s); starting it again", what, exc)
                self._reset()
                if attempt == 2:
                    raise DocumentWorkerGone(f"document worker died twice during {what}", device="document") from exc
                continue
            if reply[0] != "ok":
                raise rebuild_error(reply, DocumentError, "document")
            return reply[1]
        raise AssertionError("unreachable")

    def _wait(self, future: concurrent.futures.Future, cancel: CancelToken | None, what: str) -> Any:
        end = time.monotonic() + self.call_timeout
        while True:
            if cancel is not None and cancel.cancelled:
                future.cancel()  # a scan already running finishes in the worker and is dropped
                raise DeviceCancelled(f"{what} cancelled", device="document")
            left = end - time.monotonic()
            if left <= 0:
                self._reset()  # a stuck worker would hold every later call
                raise DocumentWorkerTimeout(f"{what} took over {self.call_timeout:.0f} s", device="document")
            try:
                return future.result(timeout=min(left, 0.1))
            except concurrent.futures.TimeoutError:
                continue

    def _reset(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            for proc in list(getattr(pool, "_processes", {}).values()):  # stop a stuck scan at once
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
