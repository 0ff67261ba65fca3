"""ID-card reader errors: one class per way a read can fail, each in the kiosk's shared categories.

A flow only looks at ``recovery`` and ``code``; the SW3 byte that caused an error stays available as
``sw3`` for the log, never as the thing a caller branches on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from devices.errors import (
    DeviceError,
    DeviceTimeout,
    HardwareError,
    ProtocolError,
    Recovery,
    UserActionError,
)

if TYPE_CHECKING:
    from devices.idcard.protocol import Sw3


class IdCardError(DeviceError):
    """Base of every ID-card reader error.

    Defines only ``code`` so that ``recovery`` comes from the category class listed second in a
    subclass's bases (MRO), e.g. ProtocolError's RETRY for a checksum error.
    """

    code = "idcard.error"

    def __init__(self, message: str, *, sw3: Sw3 | None = None, **kwargs: object) -> None:
        kwargs.setdefault("device", "idcard")
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.sw3 = sw3


class IdCardProtocolError(IdCardError, ProtocolError):
    """A frame or message that breaks the SAM protocol."""

    code = "idcard.protocol"


class IdCardChecksumError(IdCardProtocolError):
    """The XOR check byte does not match (ours, or the reader's SW3 10 about our frame)."""

    code = "idcard.checksum"


class IdCardLengthError(IdCardProtocolError):
    """LEN is impossible or does not fit the message it announces."""

    code = "idcard.length"


class IdCardRecordError(IdCardProtocolError):
    """The 256-byte text block does not hold a decodable identity record."""

    code = "idcard.bad_record"


class IdCardNoCard(IdCardError, UserActionError):
    """No (new) card on the reader: place the card, or lift it and place it again."""

    code = "idcard.no_card"


class IdCardReadFailed(IdCardError, UserActionError):
    """A card is there but could not be read (moved, bad contact, authentication glitch)."""

    code = "idcard.read_failed"


class IdCardWaitTimeout(IdCardError, DeviceTimeout):
    """Nobody placed a card within the wait; the resident is asked again, the device is fine."""

    code = "idcard.wait_timeout"
    recovery = Recovery.USER


class IdCardHardwareError(IdCardError, HardwareError):
    """The SAM module reports a fault (self-test, authorisation): never retried blindly."""

    code = "idcard.hardware"


class WltDecoderMissing(IdCardError):
    """No photo decoder is configured or the configured library cannot be loaded."""

    code = "idcard.photo_decoder_missing"
    recovery = Recovery.MAINTENANCE


class WltDecodeError(IdCardError):
    """The configured decoder refused the 1024 photo bytes (corrupt or foreign data)."""

    code = "idcard.photo_decode_failed"
    recovery = Recovery.RETRY
