"""Quadrilateral geometry: corner order, plausibility, and the page's true aspect ratio.

The aspect ratio of a photographed rectangle is not the ratio of its side lengths in the photo:
the far side of a tilted page is shorter. Zhang & He ("Whiteboard scanning and image enhancement",
2007) recover the focal length and the true ratio from the quad alone when the perspective is
strong enough; for a nearly top-down view (the usual document camera) that estimate is unstable,
and the mean side lengths are then the better answer.
"""

from __future__ import annotations

import math

import numpy as np

Quad = np.ndarray  # float32 (4, 2): top-left, top-right, bottom-right, bottom-left


def order_corners(points: np.ndarray) -> Quad:
    """Return four points as top-left, top-right, bottom-right, bottom-left.

    Sorting by angle around the centroid (rather than by x+y and x−y) keeps the order right for
    pages turned up to about 45°, where the sum/difference trick swaps corners.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise on screen (y down), starting somewhere
    start = int(np.argmin(pts[:, 0] + pts[:, 1]))
    return np.roll(pts, -start, axis=0).astype(np.float32)


def quad_area(quad: Quad) -> float:
    x, y = quad[:, 0].astype(np.float64), quad[:, 1].astype(np.float64)
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def is_convex(quad: Quad) -> bool:
    q = quad.astype(np.float64)
    signs = []
    for i in range(4):
        a, b, c = q[i], q[(i + 1) % 4], q[(i + 2) % 4]
        u, v = b - a, c - b
        signs.append(u[0] * v[1] - u[1] * v[0])
    return all(s > 0 for s in signs) or all(s < 0 for s in signs)


def interior_angles(quad: Quad) -> list[float]:
    """Interior angles in degrees, one per corner."""
    q = quad.astype(np.float64)
    out = []
    for i in range(4):
        p, a, n = q[i - 1], q[i], q[(i + 1) % 4]
        v1, v2 = p - a, n - a
        cosang = np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-12)
        out.append(math.degrees(math.acos(float(np.clip(cosang, -1.0, 1.0)))))
    return out


def side_lengths(quad: Quad) -> tuple[float, float, float, float]:
    """Top, right, bottom, left side lengths."""
    q = quad.astype(np.float64)
    top, right = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[1])
    bottom, left = np.linalg.norm(q[2] - q[3]), np.linalg.norm(q[3] - q[0])
    return float(top), float(right), float(bottom), float(left)


def naive_ratio(quad: Quad) -> float:
    """Width over height from mean opposite side lengths."""
    top, right, bottom, left = side_lengths(quad)
    return (top + bottom) / max(right + left, 1e-9)


def perspective_ratio(quad: Quad, image_size: tuple[int, int]) -> float:
    """Width over height of the real rectangle behind ``quad`` (Zhang & He), camera centred.

    Falls back to :func:`naive_ratio` when the quad is too close to a parallelogram for the focal
    length to be recovered (vanishing points at infinity) or the estimate is absurd.
    """
    w_img, h_img = image_size
    u0, v0 = w_img / 2.0, h_img / 2.0
    tl, tr, br, bl = (np.array([p[0], p[1], 1.0]) for p in quad.astype(np.float64))
    m1, m2, m3, m4 = tl, tr, bl, br
    naive = naive_ratio(quad)
    with np.errstate(all="ignore"):
        return _zhang_ratio(m1, m2, m3, m4, u0, v0, math.hypot(w_img, h_img), naive)


# focal length / image diagonal of a typical document camera (about 64° diagonal field of view)
TYPICAL_FOCAL_FRACTION = 0.8


def _focal_length(n2: np.ndarray, n3: np.ndarray, u0: float, v0: float) -> float | None:
    n21, n22, n23 = n2
    n31, n32, n33 = n3
    if abs(n23) < 1e-3 or abs(n33) < 1e-3:
        return None
    f2 = -(
        (n21 * n31 - (n21 * n33 + n23 * n31) * u0 + n23 * n33 * u0 * u0)
        + (n22 * n32 - (n22 * n33 + n23 * n32) * v0 + n23 * n33 * v0 * v0)
    ) / (n23 * n33)
    if not math.isfinite(f2) or f2 <= 0:
        return None
    return math.sqrt(f2)


def _zhang_ratio(
    m1: np.ndarray,
    m2: np.ndarray,
    m3: np.ndarray,
    m4: np.ndarray,
    u0: float,
    v0: float,
    diag: float,
    naive: float,
) -> float:
    try:
        k2 = np.dot(np.cross(m1, m4), m3) / np.dot(np.cross(m2, m4), m3)
        k3 = np.dot(np.cross(m1, m4), m2) / np.dot(np.cross(m3, m4), m2)
        if not (math.isfinite(k2) and math.isfinite(k3)):
            return naive
        n2 = k2 * m2 - m1
        n3 = k3 * m3 - m1
        f = _focal_length(n2, n3, u0, v0)
        if f is None or not 0.3 * diag <= f <= 20 * diag:
            # One pair of sides parallel in the photo (or nearly): the focal length cannot be
            # recovered, but the ratio depends on it only weakly, so a typical lens will do.
            f = TYPICAL_FOCAL_FRACTION * diag
        a = np.array([[f, 0, u0], [0, f, v0], [0, 0, 1.0]])
        ai = np.linalg.inv(a)
        b = ai.T @ ai
        ratio = math.sqrt(float(n2 @ b @ n2) / float(n3 @ b @ n3))
    except (FloatingPointError, ZeroDivisionError, np.linalg.LinAlgError, ValueError):
        return naive
    if not math.isfinite(ratio) or ratio <= 0 or abs(math.log(ratio / naive)) > 0.4:
        return naive
    return ratio
