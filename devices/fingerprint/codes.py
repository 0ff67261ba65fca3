"""Confirmation code -> typed exception: where each sensor answer gets its recovery."""

from __future__ import annotations

from devices.fingerprint.errors import (
    FingerprintAddressError,
    FingerprintBadPage,
    FingerprintEmptyPage,
    FingerprintEnrollMismatch,
    FingerprintError,
    FingerprintFewFeatures,
    FingerprintHardwareError,
    FingerprintImageFailed,
    FingerprintInvalidImage,
    FingerprintInvalidRegister,
    FingerprintMessyImage,
    FingerprintNoFinger,
    FingerprintNoMatch,
    FingerprintNotFound,
    FingerprintPacketError,
    FingerprintPasswordNeeded,
    FingerprintProtocolError,
    FingerprintWrongPassword,
)
from devices.fingerprint.protocol import Confirmation

ERROR_FOR_CODE: dict[Confirmation, type[FingerprintError]] = {
    Confirmation.PACKET_ERROR: FingerprintPacketError,
    Confirmation.NO_FINGER: FingerprintNoFinger,
    Confirmation.IMAGE_FAILED: FingerprintImageFailed,
    Confirmation.IMAGE_MESSY: FingerprintMessyImage,
    Confirmation.FEW_FEATURES: FingerprintFewFeatures,
    Confirmation.NO_MATCH: FingerprintNoMatch,
    Confirmation.NOT_FOUND: FingerprintNotFound,
    Confirmation.ENROLL_MISMATCH: FingerprintEnrollMismatch,
    Confirmation.BAD_PAGE: FingerprintBadPage,
    Confirmation.READ_ERROR: FingerprintEmptyPage,
    Confirmation.UPLOAD_FAILED: FingerprintPacketError,
    Confirmation.PACKET_RESPONSE_FAILED: FingerprintPacketError,
    Confirmation.IMAGE_UPLOAD_FAILED: FingerprintPacketError,
    Confirmation.DELETE_FAILED: FingerprintHardwareError,
    Confirmation.CLEAR_FAILED: FingerprintHardwareError,
    Confirmation.WRONG_PASSWORD: FingerprintWrongPassword,
    Confirmation.INVALID_IMAGE: FingerprintInvalidImage,
    Confirmation.FLASH_ERROR: FingerprintHardwareError,
    Confirmation.INVALID_REGISTER: FingerprintInvalidRegister,
    Confirmation.ADDRESS_ERROR: FingerprintAddressError,
    Confirmation.PASSWORD_NEEDED: FingerprintPasswordNeeded,
}


def error_for(code: Confirmation, what: str, device: str | None = None) -> FingerprintError:
    """The exception for a non-OK answer to ``what``; unexpected codes are protocol errors."""
    cls = ERROR_FOR_CODE.get(code)
    message = f"{what}: {code.meaning} ({code.value:#04x})"
    if cls is None:
        return FingerprintProtocolError(f"{what}: unexpected answer {code.name}", device=device)
    return cls(message, device=device)
