"""Errors of the face check.

A face that does not match, or a resident who does not blink, is not an error: it is a
``FaceDecision`` the flow shows. Errors here are what stops the check from running at all.
"""

from __future__ import annotations

from devices.errors import DeviceError, HardwareError, Recovery, UserActionError


class FaceError(DeviceError):
    """Base of every face-check error."""

    code = "face.error"


class FaceEngineError(FaceError, HardwareError):
    """The recognition models cannot be loaded or crash: the kiosk cannot check faces."""

    code = "face.engine"


class FaceCardPhotoError(FaceError, UserActionError):
    """No usable face in the ID-card photo, so there is nothing to compare with.

    Staff must check the resident by eye; asking the resident again does not help.
    """

    code = "face.card_photo"
    recovery = Recovery.STAFF


class FaceFrameError(FaceError):
    """The camera handed over something that is not an 8-bit BGR image (a driver bug)."""

    code = "face.bad_frame"
    recovery = Recovery.RESET


class FaceSessionClosed(FaceError):
    """``feed`` after ``close``: the biometric data of this session is already wiped."""

    code = "face.session_closed"
    recovery = Recovery.RETRY
