"""One frame from the document camera in, one straightened, checked, readable page out.

``scan_page`` is the entry the flows use; ``find_page_outline`` is the cheap part of it for the
live preview (draw the outline on every frame, scan only when the resident presses the button).
Everything here is pure computation on numpy arrays: the camera adapter owns the device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from devices.document.codes import DecodedCode, read_codes
from devices.document.enhance import flatten_lighting, to_black_and_white
from devices.document.errors import DocumentFrameError, RetakeRequired
from devices.document.finder import FinderParams, best_quad, downscale, refine_corners, to_full
from devices.document.geometry import Quad, perspective_ratio, side_lengths
from devices.document.paper import PaperSize, snap_paper
from devices.document.quality import QUALITY_LONG_SIDE, QualityVerdict, assess_grey

log = logging.getLogger(__name__)

DEFAULT_DPI = 200.0


class FallbackReason(StrEnum):
    NO_PAGE_FOUND = "no_page_found"  # no outline passed the checks: the whole frame is used


@dataclass(frozen=True)
class ScanOptions:
    # size of the copy the page is searched on, by the live preview and the capture alike: the
    # same copy and the same checks, so an outline the resident sees is the page the scan finds
    work_long_side: int = 640
    finder: FinderParams = field(default_factory=FinderParams)
    refine: bool = True  # re-measure the corners on the full frame
    paper_tolerance: float = 0.03  # relative ratio difference that still snaps to a paper size
    px_per_mm: float | None = None  # camera scale at the desk, if calibrated (tells A4 from A5)
    enhance: bool = True
    black_and_white: bool = False
    read_codes: bool = True
    min_sharpness: float = 4000.0  # calibrated on synthetic photos, see docs/thresholds.md
    max_glare: float = 0.01
    # the straightened page is made at most this fine, at its recognised paper size: 200 dpi is
    # DA/T 31-2017's minimum for archive scans; a phone's 12 MP photo of an A4 page is ~330 dpi,
    # and every step after the warp costs per pixel
    max_dpi: float = 200.0


@dataclass(frozen=True)
class ScannedPage:
    image: np.ndarray  # the page for the PDF: BGR, or grey when black_and_white
    corners: Quad  # tl, tr, br, bl in frame pixels (the frame's own corners on fallback)
    found: bool
    fallback_reason: FallbackReason | None
    quality: QualityVerdict
    codes: tuple[DecodedCode, ...]
    paper: PaperSize | None  # the recognised size, when the ratio snapped
    dpi: float  # pixels per inch at the page's physical size (200 when the size is unknown)

    @property
    def needs_retake(self) -> bool:
        return not self.quality.ok

    def require_ok(self) -> ScannedPage:
        """Return self, or raise ``RetakeRequired`` naming the reasons (for flows that prefer to)."""
        if not self.quality.ok:
            reasons = ", ".join(r.value for r in self.quality.reasons)
            raise RetakeRequired(f"photo unreadable: {reasons}", device="document")
        return self


def _check_frame(frame: object) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise DocumentFrameError("frame must be a uint8 numpy array", device="document")
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise DocumentFrameError(f"frame has shape {frame.shape}, expected HxW or HxWx3", device="document")
    if min(frame.shape[:2]) < 32:
        raise DocumentFrameError(f"frame of {frame.shape[1]}x{frame.shape[0]} is too small", device="document")
    return frame


def _search(frame: np.ndarray, options: ScanOptions) -> tuple[Quad | None, float]:
    """The page search both the preview and the capture run: coarse corners in frame pixels."""
    small, factor = downscale(frame, options.work_long_side, sample_odd=True)
    quad, _ = best_quad(small, options.finder)
    return (None if quad is None else to_full(quad, factor)), factor


def find_page_outline(frame: np.ndarray, options: ScanOptions | None = None) -> Quad | None:
    """Coarse page corners in frame pixels for the live preview, or None.

    Exactly the search ``scan_page`` runs, without the full-resolution corner refinement: the
    preview must never draw an outline the capture then does not find (nor the reverse).
    """
    options = options or ScanOptions()
    return _search(_check_frame(frame), options)[0]


def locate_page(frame: np.ndarray, options: ScanOptions) -> Quad | None:
    """Accurate page corners in frame pixels, or None."""
    full, factor = _search(frame, options)
    if full is None:
        return None
    if options.refine:
        full = refine_corners(frame, full, radius=3.0 * factor + 4.0)
    return full


def output_geometry(
    quad: Quad, frame_size: tuple[int, int], options: ScanOptions
) -> tuple[int, int, PaperSize | None, float]:
    """Width, height, paper and DPI of the straightened page.

    The pixel size keeps the resolution the page had in the photo (its longer measured side),
    but no finer than ``options.max_dpi`` when the paper size is recognised (only then is the
    DPI known); the aspect ratio comes from the perspective-corrected estimate, snapped to a paper
    when close.
    """
    ratio = perspective_ratio(quad, frame_size)  # width / height
    top, right, bottom, left = side_lengths(quad)
    long_px = max(top, right, bottom, left)
    long_mm = long_px / options.px_per_mm if options.px_per_mm else None
    paper = snap_paper(ratio, tolerance=options.paper_tolerance, long_side_mm=long_mm)
    if paper is not None:
        ratio = paper.ratio if ratio >= 1 else 1 / paper.ratio
        long_px = min(long_px, options.max_dpi * paper.long_mm / 25.4)
    if ratio >= 1:
        w, h = long_px, long_px / ratio
    else:
        w, h = long_px * ratio, long_px
    w_i, h_i = max(1, round(w)), max(1, round(h))
    dpi = max(w_i, h_i) / (paper.long_mm / 25.4) if paper is not None else DEFAULT_DPI
    return w_i, h_i, paper, dpi


def straighten(frame: np.ndarray, quad: Quad, width: int, height: int) -> np.ndarray:
    """Warp the full-resolution frame once; corners are pixel centres, the page edge is at ±0.5.

    When the page comes out at least 2× smaller than it lies in the photo (a 12 MP photo of a
    small page capped at ``max_dpi``), the frame is first reduced by that whole factor (block
    means): a bilinear warp reads only 2×2 pixels per output pixel and would alias text strokes.
    Under 2× the bilinear warp's own averaging is enough.
    """
    top, right, bottom, left = side_lengths(quad)
    shrink = min(max(top, bottom) / max(width, 1), max(left, right) / max(height, 1))
    k = int(shrink)
    src, q = frame, quad.astype(np.float32)
    if k >= 2:
        h, w = frame.shape[:2]
        src, factor = downscale(frame, max(1, round(max(h, w) / k)))
        q = ((q + 0.5) / np.float32(factor) - 0.5).astype(np.float32)
    dst = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]], np.float32)
    m = cv2.getPerspectiveTransform(q, dst)
    return cv2.warpPerspective(src, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def scan_page(frame_bgr: np.ndarray, *, options: ScanOptions | None = None) -> ScannedPage:
    """Find, straighten, check, enhance and read one page photo."""
    options = options or ScanOptions()
    frame = _check_frame(frame_bgr)
    h, w = frame.shape[:2]
    quad = locate_page(frame, options)
    if quad is None:
        log.info("no page outline found; using the whole frame")
        corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
        page = frame  # read only below; copied if it would be handed out as it is
        paper, dpi, reason = None, DEFAULT_DPI, FallbackReason.NO_PAGE_FOUND
    else:
        corners = quad
        pw, ph, paper, dpi = output_geometry(quad, (w, h), options)
        page = straighten(frame, quad, pw, ph)
        reason = None
    # one reduced copy (~1000 px) for the quality checks, the first code-reading pass and the
    # lighting estimate: the full-size page is read once for it
    small, factor = downscale(page, QUALITY_LONG_SIDE)
    small_grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    verdict = assess_grey(small_grey, min_sharpness=options.min_sharpness, max_glare=options.max_glare)
    if options.enhance:
        out = flatten_lighting(page, reduced=(small, factor))
    else:
        out = page if page is not frame else frame.copy()
    codes = read_codes(page, reduced=(small_grey, factor)) if options.read_codes else ()
    if options.black_and_white:
        out = to_black_and_white(out)
    log.info(
        "page %s paper=%s %dx%d sharp=%.0f glare=%.3f codes=%d",
        "found" if reason is None else "fallback",
        paper.name if paper else "?",
        out.shape[1],
        out.shape[0],
        verdict.sharpness,
        verdict.glare_fraction,
        len(codes),
    )
    return ScannedPage(out, corners, reason is None, reason, verdict, codes, paper, dpi)
