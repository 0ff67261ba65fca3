"""What can go wrong between the kiosk and the back office, told apart by what the kiosk does next.

``Unreachable``: the network or the back office is down; retry with back-off, nothing is wrong
with the case. ``Refused``: the back office answered 4xx with a contract error; the same request
would be refused again, so the case is kept, shown to staff and retried only rarely (an update of
either side may fix it). ``Revoked``: the kiosk's credential is no longer accepted; delivery stops
trying hard until staff re-enrol the kiosk.
"""

from __future__ import annotations

from devices.errors import KioskError, Recovery


class SyncError(KioskError):
    """Base of the back-office sync errors (``code`` is the back office's when it sent one)."""

    def __init__(self, message: str, *, code: str = "sync.failed", status: int = 0,
                 recovery: Recovery = Recovery.RETRY) -> None:
        super().__init__(message, code=code, recovery=recovery)
        self.status = status


class Unreachable(SyncError):
    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message, code="sync.unreachable", status=status)


class Refused(SyncError):
    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code, status=status, recovery=Recovery.STAFF)


class Revoked(Refused):
    """401: ``kiosk.revoked`` or ``kiosk.credential_invalid``."""


class NotEnrolled(SyncError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="sync.not_enrolled", recovery=Recovery.STAFF)
