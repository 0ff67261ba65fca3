"""Document scanning (高拍仪): find the page in a camera frame, straighten, check, enhance, read codes, PDF.

Pure computation on numpy frames; the camera itself belongs to the camera driver.
"""

from devices.document.codes import DecodedCode
from devices.document.errors import (
    DocumentError,
    DocumentFrameError,
    DocumentInputError,
    PdfWriteError,
    RetakeRequired,
)
from devices.document.finder import FinderParams
from devices.document.paper import PAPER_SIZES, PaperSize, snap_paper
from devices.document.pdf import PdfResult, build_pdf
from devices.document.quality import QualityVerdict, RetakeReason
from devices.document.scanner import FallbackReason, ScannedPage, ScanOptions, find_page_outline, scan_page

__all__ = [
    "PAPER_SIZES",
    "DecodedCode",
    "DocumentError",
    "DocumentFrameError",
    "DocumentInputError",
    "FallbackReason",
    "FinderParams",
    "PaperSize",
    "PdfResult",
    "PdfWriteError",
    "QualityVerdict",
    "RetakeReason",
    "RetakeRequired",
    "ScanOptions",
    "ScannedPage",
    "build_pdf",
    "find_page_outline",
    "scan_page",
    "snap_paper",
]
