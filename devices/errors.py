"""The one exception tree of the kiosk.

Every error says what recovers it (after XFS4IoT's error events), so that a flow or the screen can
decide between "try again", "reset the device", "ask the resident", "call staff" and "out of
service" without knowing which device raised it. Device packages subclass these: an ID-card
checksum error is both an ``IdCardError`` and a ``ProtocolError``.
"""

from __future__ import annotations

from enum import StrEnum


class Recovery(StrEnum):
    """What makes the error go away."""

    RETRY = "retry"  # the same command again is likely to work (noise on the wire, a time-out)
    RESET = "reset"  # close and reopen / reset the device, then retry
    USER = "user"  # the person in front of the kiosk must do something (place the card, the finger)
    STAFF = "staff"  # someone from the service centre must look (jammed door, tampered data)
    MAINTENANCE = "maintenance"  # broken or misconfigured: out of service until repaired


class KioskError(Exception):
    """Root of every error the kiosk raises on purpose.

    ``code`` is a stable dotted key (``"idcard.no_card"``) that the UI translates; ``str(err)`` is
    the English sentence for the log. Messages never contain unmasked ID numbers.
    """

    recovery: Recovery = Recovery.STAFF
    code: str = "kiosk.error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        recovery: Recovery | None = None,
        device: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if recovery is not None:
            self.recovery = recovery
        self.device = device

    def __str__(self) -> str:
        where = f"[{self.device}] " if self.device else ""
        return f"{where}{self.message} (recovery: {self.recovery.value})"


class ConfigError(KioskError):
    """The configuration file is missing a value or holds a bad one."""

    recovery = Recovery.MAINTENANCE
    code = "config.invalid"


class DeviceError(KioskError):
    """Anything a device or its driver reports."""

    recovery = Recovery.RESET
    code = "device.error"


class DeviceOffline(DeviceError):
    """The port is gone, cannot be opened, or the device does not answer at all."""

    recovery = Recovery.RESET
    code = "device.offline"


class DeviceTimeout(DeviceError):
    """One command got no complete answer within its time-out."""

    recovery = Recovery.RETRY
    code = "device.timeout"


class DeviceCancelled(DeviceError):
    """The caller cancelled a command that was waiting (the resident pressed cancel)."""

    recovery = Recovery.RETRY
    code = "device.cancelled"


class DeviceBusy(DeviceError):
    """Another command is still running on this device."""

    recovery = Recovery.RETRY
    code = "device.busy"


class ProtocolError(DeviceError):
    """A frame that breaks the wire protocol: bad checksum, bad length, unknown answer.

    Codecs raise only (subclasses of) this for bad bytes, never IndexError or ValueError.
    """

    recovery = Recovery.RETRY
    code = "device.protocol"


class HardwareError(DeviceError):
    """The device says it is broken (self-test failed, flash error, power lost)."""

    recovery = Recovery.MAINTENANCE
    code = "device.hardware"


class UserActionError(DeviceError):
    """The device works but the person must act: no card, no finger, finger moved."""

    recovery = Recovery.USER
    code = "device.user"
