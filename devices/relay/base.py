"""The entrance-door relay interface: energise for a while, then always switch off again.

``open_for`` starts a timer thread that switches the relay off, so the door is locked again even
when the caller's thread dies or forgets. If the whole process dies while the relay is on, an
LCUS-type module keeps its relay energised (it latches its last command) and the door stays
unlocked until the kiosk starts again: that is why a driver's ``open()`` switches the relay off
before anything else. systemd restarts the kiosk within seconds (see ``systemd/``).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod

from devices.errors import DeviceError
from devices.relay.errors import RelayConfigError
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)

MAX_OPEN_SECONDS = 60.0  # an entrance door held open longer than this is a configuration mistake
_OFF_RETRY_SECONDS = 0.5


class DoorRelay(ABC):
    """A relay that unlocks the entrance door."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = StatusTracker(name)
        self._state_lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._on = False
        self._off_due: float | None = None

    @property
    def is_on(self) -> bool:
        return self._on

    @abstractmethod
    def _switch(self, on: bool) -> None:
        """Put the relay in the given state on the wire (raises a DeviceError when it cannot)."""

    @abstractmethod
    def probe(self) -> str: ...

    def open_for(self, seconds: float) -> None:
        """Energise now and switch off after ``seconds``; a second call restarts the time."""
        if not 0 < seconds <= MAX_OPEN_SECONDS:
            raise RelayConfigError(f"door open time {seconds} s outside 0..{MAX_OPEN_SECONDS}", device=self.name)
        with self._state_lock:
            self._cancel_timer()
            self._switch(True)
            self._on = True
            self._off_due = time.monotonic() + seconds
            self._start_timer(seconds)
        log.info("%s: door relay on for %.1f s", self.name, seconds)

    def release(self) -> None:
        """Switch off now (and forget any pending switch-off)."""
        with self._state_lock:
            self._cancel_timer()
            self._switch(False)
            self._on = False
            self._off_due = None

    def _start_timer(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._auto_off)
        self._timer.daemon = True
        self._timer.name = f"{self.name}-off"
        self._timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _auto_off(self) -> None:
        """Timer thread: switch off; on failure keep trying, the door must not stay unlocked."""
        try:
            with self._state_lock:
                self._switch(False)
                self._on = False
                self._off_due = None
                self._timer = None
            log.info("%s: door relay off", self.name)
        except DeviceError as exc:
            log.error("%s: could not switch the door relay off, retrying: %s", self.name, exc)
            self.status.set(DeviceStatus.OFFLINE, f"switch-off failed: {exc.message}")
            with self._state_lock:
                if self._off_due is not None:  # not released meanwhile
                    self._start_timer(_OFF_RETRY_SECONDS)
