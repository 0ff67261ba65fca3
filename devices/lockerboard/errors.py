"""Errors of the locker boards, each also in its category of the one exception tree.

``LockOutcomeUnknown`` is the important one: after an open command that got no (valid) answer
the lock may or may not have been pulsed, so the caller must settle it from the door sensors and
must never simply send the open again (Open-Locker: never repeat a half-done step blindly).
"""

from __future__ import annotations

from devices.errors import (
    ConfigError,
    DeviceError,
    DeviceOffline,
    DeviceTimeout,
    HardwareError,
    ProtocolError,
    Recovery,
)


class LockerError(DeviceError):
    """Anything the locker bus or one of its boards reports."""

    code = "locker.error"


class LockerFrameError(LockerError, ProtocolError):
    """A frame of the wrong shape: short, bad start/end byte, unknown command or length."""

    code = "locker.frame"


class LockerChecksumError(LockerError, ProtocolError):
    """A frame whose SUM byte does not match: noise on the RS-485 line."""

    code = "locker.checksum"


class LockerConfigError(LockerError, ConfigError):
    """The locker configuration is wrong: unknown protocol name, no boards, bad numbers."""

    recovery = Recovery.MAINTENANCE
    code = "locker.config"


class LockerAddressError(LockerConfigError):
    """A board or lock number the configuration does not have (a programming/config mistake)."""

    code = "locker.bad_address"


class LockerPortLost(LockerError, DeviceOffline):
    """The USB/RS-485 adapter is gone or the port cannot be opened."""

    code = "locker.port_lost"


class LockerBoardSilent(LockerError, DeviceOffline):
    """A board does not answer: unpowered, wrong address, or cable cut (RS-485 stays silent)."""

    code = "locker.board_silent"


class LockOutcomeUnknown(LockerError, DeviceTimeout):
    """An open was sent but its answer never came (or came garbled): the lock may have pulsed.

    Recovery is STAFF-level on purpose, not RETRY: a blind retry could open a compartment twice.
    The layer above reads the door sensors (``door_states``) to settle what happened.
    """

    recovery = Recovery.STAFF
    code = "locker.open_outcome_unknown"

    def __init__(self, message: str, *, board: int, lock: int, device: str | None = None) -> None:
        super().__init__(message, device=device)
        self.board = board
        self.lock = lock


class LockRefused(LockerError, HardwareError):
    """The board answered the open command with a refusal status."""

    code = "locker.open_refused"


class DoorJammed(LockerError, HardwareError):
    """The lock was pulsed but its door sensor never showed the door open."""

    recovery = Recovery.STAFF
    code = "locker.door_jammed"
