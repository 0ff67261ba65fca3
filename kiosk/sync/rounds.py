"""One background loop of the kiosk's sync: a round now and then, or at once when woken.

Why one base: the delivery worker, the heartbeat and the puller each need the same start / wake /
stop and a loop that a failing round must never end (a bug in one round would otherwise stop
delivery for good). Keeping it in one place means a fix to stopping or waking reaches all three.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Self

log = logging.getLogger(__name__)


class Rounds:
    """Subclasses give ``THREAD_NAME``, ``round()`` and ``round_wait(took)``, and hold ``_client``."""

    THREAD_NAME = "backoffice"

    def __init__(self) -> None:
        self._client: Any = None  # the subclass's BackofficeClient, closed at stop
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> Any:
        raise NotImplementedError

    def round_wait(self, took: float) -> float:
        """Seconds to sleep after a round that took ``took`` seconds (a wake cuts it short)."""
        raise NotImplementedError

    def start(self) -> Self:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._client is not None:
            self._client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.round()
            except Exception:  # a bug must not end the loop for good: the next round tries again
                log.exception("%s: round failed; trying again", self.THREAD_NAME)
            self._wake.wait(self.round_wait(time.monotonic() - started))
            self._wake.clear()
