"""A background thread that waits for cards and hands each read to the app.

It keeps the reader's rules: at most one find every 300 ms, and a card still on the reader from
the last person is not read again until it has been lifted. When the port is lost it reports
once and keeps trying to reopen at the poll interval, so plugging the reader back in (or
restarting the simulator on the same link) recovers by itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled, DeviceError, DeviceOffline
from devices.idcard.driver import CardRead, IdCardReader

log = logging.getLogger(__name__)


class CardPoller:
    """Calls ``on_card(read)`` for every new card; ``on_error(err)`` for every failure."""

    def __init__(
        self,
        reader: IdCardReader,
        on_card: Callable[[CardRead], None],
        on_error: Callable[[DeviceError], None] | None = None,
        *,
        with_fingerprint: bool = False,
    ) -> None:
        self.reader = reader
        self.on_card = on_card
        self.on_error = on_error
        self.with_fingerprint = with_fingerprint
        self._cancel = CancelToken()
        self._thread: threading.Thread | None = None
        self._offline_reported = False  # report a lost port once, not at every reopen attempt

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> CardPoller:
        if self.running:
            return self
        self._cancel = CancelToken()
        self._thread = threading.Thread(target=self._run, name=f"{self.reader.name}-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._cancel.cancel()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while not self._cancel.cancelled:
            try:
                if not self.reader.is_open:
                    self.reader.open()
                read = self.reader.wait_for_card(None, self._cancel, with_fingerprint=self.with_fingerprint)
            except DeviceCancelled:
                if self._cancel.cancelled:
                    return
                continue
            except DeviceError as exc:
                offline = isinstance(exc, DeviceOffline)
                if not (offline and self._offline_reported):
                    self._report(exc)
                self._offline_reported = offline
                if offline:
                    self.reader.close()
                self._cancel.wait(self.reader.poll_interval)
                continue
            self._offline_reported = False
            try:
                self.on_card(read)
            except Exception:  # the app's handler must not kill the poller
                log.exception("%s: card handler failed", self.reader.name)

    def _report(self, exc: DeviceError) -> None:
        log.warning("%s: %s", self.reader.name, exc)
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                log.exception("%s: error handler failed", self.reader.name)
