"""Errors of the PC/SC readers (staff badge reader, door reader).

Each one is a ``PcscError`` and also the shared category that says what recovers it, so a flow can
treat "pcscd is down" like any other offline device and "card pulled too early" like any other
thing the person must do again.
"""

from __future__ import annotations

from devices.errors import (
    DeviceError,
    DeviceOffline,
    DeviceTimeout,
    ProtocolError,
    Recovery,
    UserActionError,
)


class PcscError(DeviceError):
    """Base of everything the PC/SC readers raise."""

    code = "pcsc.error"


class PcscUnavailable(PcscError, DeviceOffline):
    """pcscd is not running (or stopped while we talked to it): no reader can be reached."""

    code = "pcsc.service_unavailable"
    recovery = Recovery.RESET


class ReaderMissing(PcscError, DeviceOffline):
    """pcscd runs but no reader with the configured name is connected."""

    code = "pcsc.reader_missing"
    recovery = Recovery.STAFF


class CardError(PcscError, UserActionError):
    """The card could not be read; tapping it again (or another card) is the way out."""

    code = "pcsc.card"
    recovery = Recovery.USER


class CardRemoved(CardError):
    """The card left the field before its UID was read."""

    code = "pcsc.card_removed"


class CardUnsupported(CardError):
    """The card answers but will not give a UID (status word other than 90 00)."""

    code = "pcsc.card_unsupported"


class NoCard(PcscError, DeviceTimeout):
    """No card was tapped within the time-out."""

    code = "pcsc.no_card"
    recovery = Recovery.USER


class PcscProtocolError(PcscError, ProtocolError):
    """Bytes that break the APDU or vpcd framing rules (too short, bad length)."""

    code = "pcsc.protocol"
