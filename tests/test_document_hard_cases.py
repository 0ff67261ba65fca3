"""The page photos that real desks produce and the first finder missed, as synthetic cases.

Each case stands for a failure seen on real phone photos: a page that does not lie flat (right edge
bowed inward by ~43 px, a corner curled up), white paper filling the frame (a flat scan, taken
for glare), a small till receipt on a busy patterned cloth, and strong side light with a hard
shadow across page and desk. The resident must get the page found and read, and the live preview
must show the outline exactly when the capture will find the page.
"""

from __future__ import annotations

import numpy as np
import pytest

from devices.document import ScannedPage, find_page_outline, scan_page
from devices.document import synthetic as syn
from devices.document.quality import glare_fraction, normalised_grey


def corner_error(page: ScannedPage, truth: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(page.corners - truth, axis=1)))


PAGE_CASES = {
    # name: (photo maker, worst corner error allowed in px on the 2592-px frame)
    "page bowed 43 px on wood": (lambda: syn.bowed_photo(bow_px=43), 25.0),
    "page bowed with a curled corner": (lambda: syn.bowed_photo(bow_px=25, curl=True), 25.0),
    "58 mm receipt on a patterned cloth": (syn.receipt_on_pattern_photo, 25.0),
    "side light and a shadow across the page": (syn.side_light_photo, 3.0),
}


@pytest.fixture(scope="module", params=list(PAGE_CASES))
def case(request):  # noqa: ANN001, ANN201
    make, tolerance = PAGE_CASES[request.param]
    photo = make()
    return request.param, photo, tolerance, scan_page(photo.frame)


def test_the_page_is_found_where_it_lies(case) -> None:
    name, photo, tolerance, page = case
    assert page.found, name
    assert corner_error(page, photo.corners) <= tolerance, (name, page.corners, photo.corners)


def test_the_preview_shows_the_outline_the_capture_finds(case) -> None:
    name, photo, _, page = case
    preview = find_page_outline(photo.frame)
    assert preview is not None, name
    assert float(np.max(np.linalg.norm(preview - page.corners, axis=1))) < 30.0  # same page, coarse corners


def test_the_code_on_the_page_is_read_and_no_retake_is_asked(case) -> None:
    name, photo, _, page = case
    assert photo.qr_data in {c.text for c in page.codes}, name
    assert not page.needs_retake, (name, page.quality)


# -- white paper filling the frame ---------------------------------------------------------------


@pytest.fixture(scope="module")
def white_scan() -> tuple[syn.SyntheticPhoto, ScannedPage]:
    photo = syn.white_scan_photo()
    return photo, scan_page(photo.frame)


def test_white_paper_filling_the_frame_is_not_glare(white_scan) -> None:
    photo, page = white_scan
    assert page.quality.glare_fraction == 0.0
    assert not page.needs_retake, page.quality
    assert photo.qr_data in {c.text for c in page.codes}


def test_a_table_printed_on_a_flat_scan_is_not_taken_for_the_page(white_scan) -> None:
    photo, page = white_scan
    h, w = photo.frame.shape[:2]
    assert not page.found  # the page is the whole frame: nothing is cropped away
    assert page.image.shape[0] >= 0.9 * h or page.image.shape[1] >= 0.9 * h
    assert find_page_outline(photo.frame) is None  # and the preview agrees


def test_a_highlight_on_white_paper_is_still_glare() -> None:
    """Not a blanket "white is fine": a burnt-out spot brighter than the paper around it, with the
    print gone inside it, still asks for a retake."""
    photo = syn.a4_photo(glare=True)
    assert scan_page(photo.frame).quality.glare_fraction > 0.01
    grey = normalised_grey(syn.render_page(1000, 1400, qr_data=None))
    assert glare_fraction(grey) == 0.0  # the same page without the spot


# -- preview and capture agree on every synthetic photo ------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: syn.a4_photo(background="wood"),
        lambda: syn.a4_photo(background="cloth", seed=5),
        lambda: syn.a4_photo(mat=True, seed=2),
        lambda: syn.small_photo(background="cloth", seed=5),
        lambda: syn.empty_photo(background="wood"),
        lambda: syn.empty_photo(background="cloth"),
    ],
    ids=["a4-wood", "a4-cloth", "a4-mat", "receipt-cloth", "empty-wood", "empty-cloth"],
)
def test_preview_and_capture_agree(make) -> None:
    photo = make()
    assert (find_page_outline(photo.frame) is not None) == scan_page(photo.frame).found == (photo.corners is not None)
