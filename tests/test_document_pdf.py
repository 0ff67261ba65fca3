"""build_pdf: page count, checksum, physical page size, and atomic writing."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from devices.document import DocumentInputError, PdfWriteError, build_pdf
from devices.errors import HardwareError

PAGE_OBJ = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")


@dataclass
class Page:
    image: np.ndarray
    dpi: float


def a4_page(dpi: float = 150.0, grey: bool = False) -> Page:
    h, w = round(297 / 25.4 * dpi), round(210 / 25.4 * dpi)
    rng = np.random.default_rng(int(dpi))
    img = rng.integers(200, 255, (h, w) if grey else (h, w, 3), dtype=np.uint8)
    return Page(img, h / (297 / 25.4))


def test_pages_count_and_checksum(tmp_path: Path) -> None:
    pages = [a4_page(150), a4_page(120, grey=True), Page(np.full((400, 800, 3), 230, np.uint8), 200.0)]
    target = tmp_path / "submission.pdf"
    result = build_pdf(pages, target)
    data = target.read_bytes()
    assert result.path == target
    assert result.page_count == 3
    assert len(PAGE_OBJ.findall(data)) == 3  # re-read: three page objects (not counting /Pages)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.bytes == len(data)
    assert data.startswith(b"%PDF-")


def test_page_sizes_are_physical(tmp_path: Path) -> None:
    result = build_pdf([a4_page(150), Page(np.full((400, 800, 3), 230, np.uint8), 200.0)], tmp_path / "a.pdf")
    boxes = [tuple(float(v) for v in m) for m in MEDIABOX.findall(result.path.read_bytes())]
    a4_pt = (210 / 25.4 * 72, 297 / 25.4 * 72)
    (_, _, w1, h1), (_, _, w2, h2) = boxes
    assert w1 == pytest.approx(a4_pt[0], rel=0.005) and h1 == pytest.approx(a4_pt[1], rel=0.005)
    assert (w2, h2) == pytest.approx((800 / 200 * 72, 400 / 200 * 72), rel=0.005)  # unknown paper: 200 dpi


def test_write_replaces_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "doc.pdf"
    target.write_bytes(b"old")
    build_pdf([a4_page(100)], target)
    assert target.read_bytes().startswith(b"%PDF-")
    assert sorted(os.listdir(tmp_path)) == ["doc.pdf"]


def test_missing_folder_is_typed_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(PdfWriteError) as err:
        build_pdf([a4_page(100)], tmp_path / "nope" / "doc.pdf")
    assert isinstance(err.value, HardwareError) and err.value.code == "document.pdf_write"
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "doc.pdf"
    target.write_bytes(b"previous version")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(PdfWriteError):
        build_pdf([a4_page(100)], target)
    assert target.read_bytes() == b"previous version"
    assert sorted(os.listdir(tmp_path)) == ["doc.pdf"]


def test_no_pages_is_typed_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentInputError):
        build_pdf([], tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_scanned_pages_go_into_one_pdf_in_order(tmp_path: Path) -> None:
    from devices.document import ScanOptions, scan_page
    from devices.document import synthetic as syn

    photos = [syn.small_photo(), syn.small_photo(background="cloth", seed=3)]
    pages = [scan_page(p.frame, options=ScanOptions(read_codes=False)) for p in photos]
    result = build_pdf(pages, tmp_path / "scan.pdf")
    data = result.path.read_bytes()
    assert result.page_count == len(PAGE_OBJ.findall(data)) == 2
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    # the receipt is not a known paper: 200 dpi, so 400×800 px pages are 2×4 inches
    for _, _, w, h in (tuple(float(v) for v in m) for m in MEDIABOX.findall(data)):
        assert (w, h) == pytest.approx((400 / 200 * 72, 801 / 200 * 72), abs=1.0)
