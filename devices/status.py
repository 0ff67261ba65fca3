"""Device status with change events, after XFS4IoT's common status values.

Drivers own one ``StatusTracker`` each. The app subscribes to it to go out of service by itself
when a device a flow needs is down (CUSS 2) and to come back when it recovers; callers never get
integer codes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from devices.listeners import Listeners


class DeviceStatus(StrEnum):
    ONLINE = "online"  # open and answering
    OFFLINE = "offline"  # not open, unplugged, or not answering
    BUSY = "busy"  # a command is running
    HARDWARE_ERROR = "hardware_error"  # the device reports a fault; needs maintenance
    USER_ERROR = "user_error"  # works, but waits for the person (jammed by a user, card left)
    NOT_CONFIGURED = "not_configured"  # the kiosk has no such device

    @property
    def usable(self) -> bool:
        """Whether a flow may use the device now (busy devices are used, just not concurrently)."""
        return self in (DeviceStatus.ONLINE, DeviceStatus.BUSY, DeviceStatus.USER_ERROR)


@dataclass(frozen=True)
class StatusChange:
    device: str
    old: DeviceStatus
    new: DeviceStatus
    detail: str
    at: float = field(default_factory=time.time)


Listener = Callable[[StatusChange], None]


class StatusTracker:
    """Thread-safe current status of one device, calling listeners on every change.

    Setting the same status again with a new detail also notifies, so an out-of-service screen can
    show the newest reason.
    """

    def __init__(self, device: str, initial: DeviceStatus = DeviceStatus.OFFLINE) -> None:
        self.device = device
        self._status = initial
        self._detail = ""
        self._lock = threading.Lock()
        self._listeners: Listeners[StatusChange] = Listeners()

    @property
    def status(self) -> DeviceStatus:
        return self._status

    @property
    def detail(self) -> str:
        return self._detail

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns a function that removes it."""
        return self._listeners.add(listener)

    def set(self, status: DeviceStatus, detail: str = "") -> None:
        with self._lock:
            if status == self._status and detail == self._detail:
                return
            change = StatusChange(self.device, self._status, status, detail)
            self._status, self._detail = status, detail
        for listener in self._listeners:
            listener(change)
