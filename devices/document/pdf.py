"""Several scanned pages into one PDF, written atomically.

img2pdf embeds the JPEG bytes as they are (no re-encoding), so the page size comes from the JPEG's
own density: each page is encoded with the DPI that makes it its true paper size when the paper
was recognised, else 200 DPI. The file appears under its final name only complete and on disk
(temp file in the same folder + fsync + rename + fsync of the folder), so a power cut never
leaves half a PDF where the submission store expects a whole one.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import img2pdf
import numpy as np
from PIL import Image

from devices.document.errors import DocumentInputError, PdfWriteError

log = logging.getLogger(__name__)


class PdfPage(Protocol):
    """What ``build_pdf`` needs of a page (``ScannedPage`` has both)."""

    image: np.ndarray
    dpi: float


@dataclass(frozen=True)
class PdfResult:
    path: Path
    page_count: int
    sha256: str  # hex digest of the file as written
    bytes: int  # file size


def encode_jpeg(image: np.ndarray, dpi: float, quality: int = 85) -> bytes:
    """JPEG with a JFIF density, so img2pdf sizes the page physically right."""
    if image.ndim == 2:
        pil = Image.fromarray(image, mode="L")
    else:
        pil = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), mode="RGB")
    buf = io.BytesIO()
    d = max(1, round(dpi))
    pil.save(buf, format="JPEG", quality=quality, dpi=(d, d), optimize=False)
    return buf.getvalue()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def build_pdf(pages: Sequence[PdfPage], path: str | os.PathLike[str], *, jpeg_quality: int = 85) -> PdfResult:
    """Write ``pages`` (in order) as one PDF at ``path``; never leaves a partial file there."""
    if not pages:
        raise DocumentInputError("a PDF needs at least one page", device="document")
    target = Path(path)
    try:
        jpegs = [encode_jpeg(p.image, p.dpi, jpeg_quality) for p in pages]
        data = img2pdf.convert(jpegs)
    except (
        OSError,
        ValueError,
        TypeError,
        img2pdf.ImageOpenError,
        img2pdf.PdfTooLargeError,
        img2pdf.NegativeDimensionError,
        img2pdf.UnsupportedColorspaceError,
    ) as exc:
        raise PdfWriteError(f"could not encode the PDF: {exc}", device="document") from exc
    if data is None:  # pragma: no cover - img2pdf returns bytes when no stream is given
        raise PdfWriteError("img2pdf returned nothing", device="document")
    try:
        write_atomically(target, data)
    except OSError as exc:
        raise PdfWriteError(f"could not write {target}: {exc.strerror or exc}", device="document") from exc
    digest = hashlib.sha256(data).hexdigest()
    log.info("wrote %s: %d pages, %d bytes", target.name, len(jpegs), len(data))
    return PdfResult(target, len(jpegs), digest, len(data))
