"""Cancellation and deadlines for device commands.

Every blocking driver call takes an optional ``CancelToken`` and a time-out, so that a resident
pressing "cancel" or a flow's own time-out stops a wait on a card or a finger at once instead of
after the device's longest time-out.
"""

from __future__ import annotations

import threading
import time

from devices.errors import DeviceCancelled, DeviceTimeout


class CancelToken:
    """Set once by whoever wants the wait to stop; checked by drivers between short reads."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when cancelled meanwhile (used for poll intervals)."""
        return self._event.wait(seconds)


class Deadline:
    """A point in monotonic time after which a command has timed out."""

    def __init__(self, seconds: float, what: str = "command", device: str | None = None) -> None:
        self.seconds = seconds
        self.what = what
        self.device = device
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def check(self, cancel: CancelToken | None = None) -> None:
        """Raise DeviceCancelled or DeviceTimeout when it is time to stop waiting."""
        if cancel is not None and cancel.cancelled:
            raise DeviceCancelled(f"{self.what} cancelled", device=self.device)
        if self.expired:
            raise DeviceTimeout(f"{self.what}: no answer within {self.seconds:.2f} s", device=self.device)
