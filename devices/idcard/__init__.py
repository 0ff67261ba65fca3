"""Resident ID card reader (SAM module, serial): codec, records, photo decoders, driver, simulator."""

from devices.idcard.codes import NATIONS, Sex, id_check_char, is_valid_id_number, nation_name
from devices.idcard.driver import MIN_POLL_INTERVAL, CardRead, IdCardReader, error_for_sw3
from devices.idcard.errors import (
    IdCardChecksumError,
    IdCardError,
    IdCardHardwareError,
    IdCardLengthError,
    IdCardNoCard,
    IdCardProtocolError,
    IdCardReadFailed,
    IdCardRecordError,
    IdCardWaitTimeout,
    WltDecodeError,
    WltDecoderMissing,
)
from devices.idcard.poller import CardPoller
from devices.idcard.protocol import Command, SamId, Sw3
from devices.idcard.records import (
    ForeignerPermanentResidenceCard,
    IdentityRecord,
    ResidencePermit,
    ResidentIdCard,
    decode_text,
    record_from_dict,
)
from devices.idcard.wlt import NoWltDecoder, SimulatorPhotoDecoder, VendorWltDecoder, WltDecoder

__all__ = [
    "MIN_POLL_INTERVAL",
    "NATIONS",
    "CardPoller",
    "CardRead",
    "Command",
    "ForeignerPermanentResidenceCard",
    "IdCardChecksumError",
    "IdCardError",
    "IdCardHardwareError",
    "IdCardLengthError",
    "IdCardNoCard",
    "IdCardProtocolError",
    "IdCardReadFailed",
    "IdCardReader",
    "IdCardRecordError",
    "IdCardWaitTimeout",
    "IdentityRecord",
    "NoWltDecoder",
    "ResidencePermit",
    "ResidentIdCard",
    "SamId",
    "Sex",
    "SimulatorPhotoDecoder",
    "Sw3",
    "VendorWltDecoder",
    "WltDecodeError",
    "WltDecoder",
    "WltDecoderMissing",
    "decode_text",
    "error_for_sw3",
    "id_check_char",
    "is_valid_id_number",
    "nation_name",
    "record_from_dict",
]
