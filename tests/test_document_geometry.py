"""Corner order, paper snapping and the perspective-aware aspect ratio."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.document import PaperSize, snap_paper
from devices.document.finder import FinderParams, _plausible
from devices.document.geometry import naive_ratio, order_corners, perspective_ratio
from devices.document.synthetic import project_rectangle

TRUTH = np.array([[100, 50], [400, 80], [380, 500], [90, 470]], np.float32)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_order_corners_from_any_order(perm: tuple[int, ...]) -> None:
    assert order_corners(TRUTH[list(perm)]).tolist() == TRUTH.tolist()


@given(st.floats(-44, 44), st.floats(0.3, 3.0))
def test_order_corners_for_turned_pages(turn: float, aspect: float) -> None:
    t = math.radians(turn)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    rect = np.array([[-aspect, -1], [aspect, -1], [aspect, 1], [-aspect, 1]]) * 100
    quad = rect @ rot.T + 500
    ordered = order_corners(quad[::-1].copy())
    # still the same corners, clockwise on screen, starting at the one nearest the top left
    assert sorted(map(tuple, ordered.round(3).tolist())) == sorted(
        map(tuple, quad.astype(np.float32).round(3).tolist())
    )
    assert int(np.argmin(ordered.sum(axis=1))) == 0
    d1, d2 = ordered[1] - ordered[0], ordered[2] - ordered[1]
    assert d1[0] * d2[1] - d1[1] * d2[0] > 0


@pytest.mark.parametrize(
    ("ratio", "name"),
    [(math.sqrt(2), "A4"), (1.43, "A4"), (1 / 1.41, "A4"), (279.4 / 215.9, "Letter"), (85.6 / 53.98, "ID-1")],
)
def test_snap_paper_close_ratios(ratio: float, name: str) -> None:
    paper = snap_paper(ratio)
    assert paper is not None and paper.name == name


@pytest.mark.parametrize("ratio", [1.0, 1.2, 2.0, float("nan"), 0.0, -1.0, float("inf")])
def test_snap_paper_refuses_unknown_ratios(ratio: float) -> None:
    assert snap_paper(ratio) is None


def test_camera_scale_tells_a5_from_a4() -> None:
    assert snap_paper(math.sqrt(2), long_side_mm=212.0) == PaperSize("A5", 148.0, 210.0)
    assert snap_paper(math.sqrt(2), long_side_mm=300.0).name == "A4"  # type: ignore[union-attr]


@pytest.mark.parametrize(("tilt_x", "tilt_y", "turn"), [(0, 0, 0), (9, -6, 7), (20, 15, 20), (-18, 10, -30)])
def test_perspective_ratio_recovers_a4_where_side_lengths_do_not(tilt_x: float, tilt_y: float, turn: float) -> None:
    quad = order_corners(
        project_rectangle(210, 297, px_per_mm=5.8, tilt_x_deg=tilt_x, tilt_y_deg=tilt_y, turn_deg=turn)
    )
    # width/height of the upright page = 210/297 (turn ≤ 45° keeps it upright)
    assert perspective_ratio(quad, (2592, 1944)) == pytest.approx(210 / 297, rel=0.01)


def test_side_lengths_alone_are_wrong_under_strong_tilt() -> None:
    quad = order_corners(project_rectangle(210, 297, px_per_mm=5.8, tilt_x_deg=20, tilt_y_deg=15, turn_deg=20))
    assert abs(naive_ratio(quad) / (210 / 297) - 1) > 0.03  # why perspective_ratio exists


@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=8, max_size=8))
def test_perspective_ratio_never_raises_and_is_positive(coords: list[float]) -> None:
    quad = order_corners(np.array(coords, np.float64).reshape(4, 2))
    r = perspective_ratio(quad, (2592, 1944))
    assert (math.isfinite(r) and r > 0) or r == naive_ratio(quad)


def test_plausibility_rejects_tiny_slivers_and_non_convex() -> None:
    area = 800 * 600.0
    params = FinderParams()
    assert _plausible(order_corners(TRUTH), area, params)
    assert not _plausible(order_corners(TRUTH / 10), area, params)  # too small
    sliver = np.array([[100, 100], [700, 100], [700, 110], [100, 110]], np.float32)
    assert not _plausible(sliver, area, params)  # aspect 60:1
    dart = np.array([[100, 100], [300, 250], [500, 100], [300, 500]], np.float32)
    assert not _plausible(dart, area, params)  # not convex
    frame = np.array([[0, 0], [799, 0], [799, 599], [0, 599]], np.float32)
    assert not _plausible(frame, area, params)  # the frame border is not a page


@pytest.mark.parametrize("focal", [1800.0, 2600.0, 3500.0])
def test_degenerate_perspective_uses_a_typical_lens_and_still_beats_side_lengths(focal: float) -> None:
    # turned so that one pair of sides is nearly parallel in the photo: focal length unrecoverable
    quad = order_corners(
        project_rectangle(210, 297, px_per_mm=5.8, tilt_x_deg=-18, tilt_y_deg=10, turn_deg=-30, focal_px=focal)
    )
    est = perspective_ratio(quad, (2592, 1944))
    assert est == pytest.approx(210 / 297, rel=0.03)
    assert abs(est - 210 / 297) < abs(naive_ratio(quad) - 210 / 297)
