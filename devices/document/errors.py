"""Errors of the document-scanning pipeline.

Scanning is pure computation, so most trouble is either a frame that is not an image at all (the
camera adapter handed over garbage: retry with the next frame) or a PDF that cannot be written (a
full or read-only disk: nobody at the kiosk can fix that). A photo that is merely bad (blurred,
glare) is *not* an exception: ``scan_page`` returns it with a retake verdict so the screen can
show the reason; ``RetakeRequired`` exists for flows that prefer to raise.
"""

from __future__ import annotations

from devices.errors import DeviceError, HardwareError, ProtocolError, UserActionError


class DocumentError(DeviceError):
    """Base of everything the document scanner raises."""

    code = "document.error"


class DocumentFrameError(DocumentError, ProtocolError):
    """The frame is not a usable BGR/grey image (wrong shape, dtype, empty)."""

    code = "document.bad_frame"


class DocumentInputError(DocumentError):
    """The caller asked for something impossible (a PDF of zero pages, a bad option)."""

    code = "document.bad_input"


class PdfWriteError(DocumentError, HardwareError):
    """The PDF could not be encoded or written to disk (full, read-only, missing folder)."""

    code = "document.pdf_write"


class RetakeRequired(DocumentError, UserActionError):
    """The photo is unreadable (blurred, glare): the resident must place the page again."""

    code = "document.retake"
