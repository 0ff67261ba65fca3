"""Errors of the fingerprint sensor, each in the kiosk's one tree with the recovery it needs.

The sensor answers every command with a one-byte confirmation code; callers never see that code.
Each code becomes a class that says who can fix it: the resident (no finger, smudged image),
a retry (noise on the wire), or maintenance (flash worn out, wrong password in the config).
"""

from __future__ import annotations

from devices.errors import (
    DeviceError,
    HardwareError,
    ProtocolError,
    Recovery,
    UserActionError,
)


class FingerprintError(DeviceError):
    """Base of everything the fingerprint sensor or its driver raises."""

    code = "fingerprint.error"


# -- wire -------------------------------------------------------------------------------------
class FingerprintProtocolError(FingerprintError, ProtocolError):
    """Bytes that are not a valid packet of the sensor's protocol."""

    code = "fingerprint.protocol"


class FingerprintFrameError(FingerprintProtocolError):
    """A packet with a bad start code, length, packet type or address."""

    code = "fingerprint.frame"


class FingerprintChecksumError(FingerprintProtocolError):
    """A packet whose 16-bit sum does not match: noise on the wire."""

    code = "fingerprint.checksum"


class FingerprintUnknownCodeError(FingerprintProtocolError):
    """A confirmation code this driver does not know (another firmware family)."""

    code = "fingerprint.unknown_code"


class FingerprintPacketError(FingerprintError, ProtocolError):
    """The sensor says it could not receive our packet or the data that followed (01, 0D, 0E, 0F)."""

    code = "fingerprint.packet"


# -- the resident must act ---------------------------------------------------------------------
class FingerprintUserError(FingerprintError, UserActionError):
    """The sensor works; the person at the kiosk has to place, lift or press the finger again."""

    code = "fingerprint.user"


class FingerprintNoFinger(FingerprintUserError):
    """No finger was placed before the time-out."""

    code = "fingerprint.no_finger"


class FingerprintNotLifted(FingerprintUserError):
    """The finger stayed on the sensor when it had to be lifted between two captures."""

    code = "fingerprint.lift_finger"


class FingerprintImageFailed(FingerprintUserError):
    """The sensor could not take an image (finger moved, too wet or too dry)."""

    code = "fingerprint.press_again"


class FingerprintMessyImage(FingerprintUserError):
    """The image is too messy to extract features: press again, flatter."""

    code = "fingerprint.press_again"


class FingerprintFewFeatures(FingerprintUserError):
    """Too few features in the image (finger too small on the glass): press again, more of it."""

    code = "fingerprint.press_again"


class FingerprintInvalidImage(FingerprintUserError):
    """No valid image in the image buffer to extract features from: press again."""

    code = "fingerprint.press_again"


class FingerprintNoMatch(FingerprintUserError):
    """The two templates do not match (1:1); ``score`` is the sensor's score, below its threshold."""

    code = "fingerprint.no_match"
    score: int = 0


class FingerprintNotFound(FingerprintUserError):
    """The finger is in none of the searched pages (1:N)."""

    code = "fingerprint.not_found"


class FingerprintEnrollMismatch(FingerprintUserError):
    """The two enrolment captures are not of the same finger: start the enrolment again."""

    code = "fingerprint.enroll_mismatch"


# -- caller or configuration --------------------------------------------------------------------
class FingerprintBadPage(FingerprintError):
    """A page number beyond the sensor's capacity: the kiosk's configuration is wrong."""

    recovery = Recovery.MAINTENANCE
    code = "fingerprint.bad_page"


class FingerprintEmptyPage(FingerprintError):
    """Reading a template from a page that holds none, or a template the sensor rejects."""

    recovery = Recovery.STAFF
    code = "fingerprint.empty_page"


class FingerprintBadTemplate(FingerprintError):
    """A template handed to the driver that cannot be a sensor template (wrong size)."""

    recovery = Recovery.STAFF
    code = "fingerprint.bad_template"


class FingerprintInvalidRegister(FingerprintError):
    """SetSysPara with a parameter or value the sensor refuses."""

    recovery = Recovery.MAINTENANCE
    code = "fingerprint.invalid_register"


class FingerprintWrongPassword(FingerprintError):
    """The configured password is not the sensor's: out of service until the config is fixed."""

    recovery = Recovery.MAINTENANCE
    code = "fingerprint.wrong_password"


class FingerprintPasswordNeeded(FingerprintError):
    """The sensor has a password and wants VfyPwd first (it was reset behind our back)."""

    recovery = Recovery.RESET
    code = "fingerprint.password_needed"


class FingerprintAddressError(FingerprintError):
    """The sensor reports an address error: the configured address is wrong."""

    recovery = Recovery.MAINTENANCE
    code = "fingerprint.address"


# -- broken -------------------------------------------------------------------------------------
class FingerprintHardwareError(FingerprintError, HardwareError):
    """The sensor reports a flash or storage failure (0C read, 10 delete, 11 clear, 18 flash)."""

    code = "fingerprint.hardware"
