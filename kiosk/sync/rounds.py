"""One background loop of the kiosk's sync: a round now and then, or at once when woken.

Why one base: the delivery worker, the heartbeat and the puller each need the same start / wake /
stop and a loop that a failing round must never end (a bug in one round would otherwise stop
delivery for good). Keeping it in one place means a fix to stopping or waking reaches all three.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Callable

    from kiosk.config import BackofficeConfig
    from kiosk.sync.client import BackofficeClient
    from kiosk.sync.credential import Credential

log = logging.getLogger(__name__)


class Rounds:
    """Subclasses give ``THREAD_NAME``, ``round()`` and ``round_wait(took)``, and set ``cfg``
    (a ``BackofficeConfig``), ``simulator`` and ``clock`` for ``client_for``."""

    THREAD_NAME = "backoffice"
    cfg: BackofficeConfig
    simulator: bool
    clock: Callable[[], float]

    def __init__(self) -> None:
        self._client: Any = None  # the BackofficeClient of the current credential, closed at stop
        self._client_token: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> Any:
        raise NotImplementedError

    def round_wait(self, took: float) -> float:
        """Seconds to sleep after a round that took ``took`` seconds (a wake cuts it short)."""
        raise NotImplementedError

    def client_for(self, cred: Credential, timeout: float | None = None) -> BackofficeClient:
        """One kept-alive client per credential: a new one only when the token changed (re-enrolled).

        Why here: all three loops must drop the old connection the moment a new credential is
        stored, or a re-enrolled kiosk keeps knocking with the revoked token until it restarts.
        """
        from kiosk.sync.client import BackofficeClient  # the loop base stays importable without HTTP

        if self._client is None or self._client_token != cred.token:
            if self._client is not None:
                self._client.close()
            cfg = self.cfg
            self._client = BackofficeClient(cfg.url or cred.url, token=cred.token, ca_file=cfg.ca_file,
                                            allow_plain=self.simulator,
                                            timeout=cfg.timeout_s if timeout is None else timeout,
                                            clock=self.clock)
            self._client_token = cred.token
        return self._client

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
