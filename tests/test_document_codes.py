"""Codes on deposited pages: a barcode printed sideways in the margin is read, and a page with no
code at all (the most common deposit) is not read over and over at ever larger sizes."""

from __future__ import annotations

import numpy as np
import pytest

from devices.document import ScanOptions, scan_page
from devices.document import codes as codes_module
from devices.document import synthetic as syn


@pytest.fixture
def decoder_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, ...], bool]]:
    """Every zxing call scan_page makes: (image shape, rotations tried)."""
    calls: list[tuple[tuple[int, ...], bool]] = []
    real = codes_module.zxingcpp.read_barcodes

    def spy(image: np.ndarray, **kwargs: object) -> object:
        calls.append((image.shape, bool(kwargs.get("try_rotate"))))
        return real(image, **kwargs)

    monkeypatch.setattr(codes_module.zxingcpp, "read_barcodes", spy)
    return calls


def test_barcode_printed_sideways_in_the_margin_is_read() -> None:
    photo = syn.barcode_photo(sideways=True)
    page = scan_page(photo.frame)
    assert page.found
    assert [(c.kind, c.text) for c in page.codes] == [("CODE128", photo.qr_data)]
    xs = [p[0] for p in page.codes[0].polygon]
    ys = [p[1] for p in page.codes[0].polygon]
    h, w = page.image.shape[:2]
    # in page coordinates, along the right margin where it was printed, running down the page
    assert min(xs) > 0.85 * w and max(xs) < w
    assert 0.2 * h < min(ys) and max(ys) < 0.5 * h and max(ys) - min(ys) > 3 * (max(xs) - min(xs))


def test_upright_barcode_is_read() -> None:
    photo = syn.barcode_photo(sideways=False)
    page = scan_page(photo.frame)
    assert [(c.kind, c.text) for c in page.codes] == [("CODE128", photo.qr_data)]


def test_page_without_a_code_is_read_once_at_full_size_and_never_enlarged(decoder_calls) -> None:
    photo = syn.a4_photo(qr_data=None)
    page = scan_page(photo.frame)
    assert page.found and page.codes == ()
    page_px = page.image.shape[0] * page.image.shape[1]
    sizes = [shape[0] * shape[1] for shape, _ in decoder_calls]
    assert max(sizes) <= page_px  # no 2x upscale of an A4 page (it used to be read at 4x the pixels)
    assert sum(sizes) <= 2.5 * page_px  # the reduced copy, then the page upright and turned once


def test_a_form_s_qr_code_is_found_on_the_reduced_copy_alone(decoder_calls) -> None:
    photo = syn.a4_photo()
    page = scan_page(photo.frame)
    assert [c.text for c in page.codes] == [photo.qr_data]
    assert len(decoder_calls) == 1 and decoder_calls[0][0][0] < page.image.shape[0]


def test_codes_are_not_read_when_switched_off(decoder_calls) -> None:
    scan_page(syn.a4_photo().frame, options=ScanOptions(read_codes=False))
    assert decoder_calls == []
