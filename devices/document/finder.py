"""Finding the page outline on a small copy of the frame, then sharpening the corners at full size.

Why two resolutions: every candidate search (several Canny thresholds, two segmentations) costs
the same per pixel, so running them on an ~800 px copy is ~10× cheaper than on 5 MP, and the page
edge is a long straight line that survives downscaling. The coarse corners are then re-measured on
the full frame along short profiles across each side (a few thousand pixels read in all), so the
speed costs no accuracy.

Why several candidate sources: Canny contours break on a textured desk (wood grain, a patterned
cloth) where the page outline merges with the texture, while a brightness segmentation breaks
when the desk is as bright as the page. Every candidate must then pass the same checks: convex,
near-right angles, big enough, a sane aspect, and a real brightness step across each of its four
sides (a quad drawn through texture has none). The segmentation runs first because it is
cheap; the Canny passes run only when it finds nothing (``FinderParams.always_try_edges``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from devices.document.geometry import Quad, interior_angles, is_convex, order_corners, quad_area, side_lengths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinderParams:
    """Plausibility limits for a page outline; the defaults suit a document camera over a desk."""

    min_area_fraction: float = 0.02  # a receipt under an A3-field camera is ~5 %
    max_area_fraction: float = 0.985  # the frame border itself is not a page
    min_angle_deg: float = 50.0
    max_angle_deg: float = 130.0
    max_aspect: float = 6.0  # long receipts
    min_step: float = 10.0  # grey levels between inside and outside of every side
    max_bow: float = 0.06  # a side's edge may leave the straight line by this × its length (bowed page)
    canny_thresholds: tuple[tuple[int, int], ...] = ((20, 60), (40, 120), (80, 200))
    # False: the edge passes run only when brightness segmentation found no plausible page
    always_try_edges: bool = False


@dataclass(frozen=True)
class Candidate:
    quad: Quad  # in the coordinates of the image it was found in
    area: float
    step: float  # weakest side's brightness step (signed: > 0 means the page is brighter)
    source: str


def downscale(image: np.ndarray, long_side: int, *, sample_odd: bool = False) -> tuple[np.ndarray, float]:
    """A copy whose long side is about ``long_side`` px, and the factor full ≈ small × factor.

    The factor is rounded to a whole number k and the copy is the mean of each k×k block (area
    averaging). A 5 MP frame is read once for this, so how matters: OpenCV's ``INTER_AREA`` at
    k = 4 costs 8 ms of CPU on 2592×1944 BGR, while ``INTER_LINEAR`` at exactly half the size is
    the mean of each 2×2 block (it samples at the block's centre) at a quarter of the cost. So
    every factor of 2 in k is taken by such a halving, and only the odd rest by ``INTER_AREA``
    on the already smaller copy: the same block means (up to rounding) for 2.4 ms instead of 8.

    ``sample_odd`` (the page search's copy): after at least one halving, the odd rest takes the
    centre sample of each block instead of its mean (``INTER_LINEAR`` at an exact odd factor lands
    on the centre pixel). On a 12 MP phone frame (k = 6) the area pass at 3 cost 5.7 ms of the
    copy's 11; the sample costs 1.8, and each of its pixels is still the mean of 2×2 frame pixels,
    which the search then blurs with a 5×5 Gaussian anyway. The block centre is unchanged, so the
    factor back to the frame is exact either way.
    """
    h, w = image.shape[:2]
    k = max(1, round(max(h, w) / float(long_side)))
    if k == 1:
        return image, 1.0
    size = (max(1, w // k), max(1, h // k))
    if w // k < 1 or h // k < 1:
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), w / size[0]
    # whole blocks only: the last w % k columns and h % k rows (under k px of the edge) are left
    # out, so every resize below is at an exact factor and hits OpenCV's fast paths (a view, no copy)
    small = image[: size[1] * k, : size[0] * k]
    rest = k
    while rest % 2 == 0:
        small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
        rest //= 2
    if rest > 1:
        sample = sample_odd and rest < k  # only on a copy already made of block means
        small = cv2.resize(small, size, interpolation=cv2.INTER_LINEAR if sample else cv2.INTER_AREA)
    return small, float(k)


def to_full(quad: Quad, factor: float) -> Quad:
    """Small-copy pixel centres to full-frame pixel centres (an area-averaged pixel's centre)."""
    return ((quad.astype(np.float32) + 0.5) * np.float32(factor) - 0.5).astype(np.float32)


def _to_grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _quads_from_contours(contours: list[np.ndarray], min_area: float) -> list[Quad]:
    quads = []
    for c in contours:
        if len(c) < 4:
            continue
        _, _, bw, bh = cv2.boundingRect(c)
        if bw * bh < min_area:
            continue  # its hull cannot be big enough either (most contours of a textured desk)
        hull = cv2.convexHull(c)
        if cv2.contourArea(hull) < min_area:
            continue
        peri = cv2.arcLength(hull, True)
        approx = cv2.approxPolyDP(hull, 0.02 * peri, True)
        if len(approx) == 4:
            quads.append(order_corners(approx.reshape(4, 2)))
        poly = cv2.approxPolyN(hull, 4, epsilon_percentage=-1.0, ensure_convex=True)
        if poly is not None and len(poly.reshape(-1, 2)) == 4:
            quads.append(order_corners(poly.reshape(4, 2)))
    return quads


def _edge_candidates(blur: np.ndarray, min_area: float, params: FinderParams) -> list[Quad]:
    quads: list[Quad] = []
    kernel = np.ones((3, 3), np.uint8)
    for lo, hi in params.canny_thresholds:
        edges = cv2.dilate(cv2.Canny(blur, lo, hi), kernel)
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        quads += _quads_from_contours(list(contours), min_area)
    return _distinct(quads)


def _segment_masks(small_bgr: np.ndarray, grey: np.ndarray) -> list[np.ndarray]:
    """Bright-and-white masks of the search copy: brightness, and brightness minus saturation."""
    channels = [grey]
    if small_bgr.ndim == 3:
        # split, not slices: cv2 copies a strided channel view on every call (4 ms at 640 px)
        _, sat, val = cv2.split(cv2.cvtColor(small_bgr, cv2.COLOR_BGR2HSV))
        channels.append(cv2.subtract(val, sat))
    k_open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    k_close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    masks = []
    for ch in channels:
        ch = cv2.GaussianBlur(ch, (5, 5), 0)
        _, mask = cv2.threshold(ch, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, k_open)
        masks.append(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k_close))
    return masks


def _segment_candidates(
    small_bgr: np.ndarray,
    grey: np.ndarray,
    min_area: float,
    wide: bool = False,
    masks: list[np.ndarray] | None = None,
) -> list[Quad]:
    """Pages are usually the brightest, least coloured thing on the desk: threshold that.

    ``wide``: open the masks with a kernel wider than the bright spots of a patterned cloth (see
    below); costlier, so ``find_candidates`` asks for it only when the plain masks gave no page,
    handing over the masks it already has (``masks``).
    """
    if masks is None:
        masks = _segment_masks(small_bgr, grey)
    # a patterned cloth has paper-bright spots that touch a small page and spoil its outline; an
    # opening wider than the spots (1/40 of the frame) but narrower than a till receipt cuts them off
    side = max(7, round(max(grey.shape) / 24) | 1)
    quads: list[Quad] = []
    for mask in masks:
        if wide:
            mask = _open_disc(mask, side // 2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        quads += _quads_from_contours(list(contours), min_area)
    return quads


def _open_disc(mask: np.ndarray, radius: int) -> np.ndarray:
    """Morphological opening of a 0/255 mask with a disc of ``radius`` px, by distance transforms.

    The same as ``morphologyEx(MORPH_OPEN)`` with a ``2·radius+1`` ellipse, but its cost does not
    grow with the disc: 1.5 ms instead of 13 ms for the 27-px disc on the 648-px search copy.
    Erosion keeps the pixels farther than ``radius`` from the background; dilation then takes back
    every pixel within ``radius`` of what was kept.
    """
    r = float(radius)
    outside = cv2.compare(cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_5), r, cv2.CMP_LE)  # not eroded
    return cv2.compare(cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_5), r, cv2.CMP_LE)


def _distinct(quads: list[Quad], tolerance: float = 2.0) -> list[Quad]:
    """``quads`` without near-repeats: the Canny thresholds mostly find the same outline again, and
    each check reads a few thousand pixels."""
    out: list[Quad] = []
    for q in quads:
        if all(float(np.max(np.abs(q - o))) > tolerance for o in out):
            out.append(q)
    return out


def _profiles(
    grey: np.ndarray, a: np.ndarray, d: np.ndarray, n: np.ndarray, t: np.ndarray, offs: np.ndarray
) -> np.ndarray:
    """Grey values on a grid: ``len(t)`` points along a→a+d, each read at ``offs`` px along ``n``."""
    pts = a[None, None, :] + t[:, None, None] * d[None, None, :] + offs[None, :, None] * n[None, None, :]
    pts = pts.astype(np.float32)
    vals = cv2.remap(grey, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return vals.astype(np.float32)


def _side_steps(
    grey: np.ndarray, quad: Quad, offset: float = 3.0, samples: int = 24, bow: float = 0.06, min_step: float = 0.0
) -> list[float]:
    """Median (inside − outside) brightness across each side, following the edge if the page bows.

    A real page edge gives the same step all along a side; a side drawn through texture gives a
    median near zero even where the texture itself is full of edges. The step is read first just
    across the straight side. A page that is not flat (a bowed edge, a curled corner) leaves the
    straight line between its corners by up to a few per cent of the side: where the straight
    reading falls short of ``min_step``, the edge is looked for within ``bow`` × the side length
    on either side, and counted only when the strongest step lies on one smooth curve along the
    side (a quadratic through its positions holds 70 % of them within 1.5 px). Texture puts its
    strongest steps at random offsets and fails that; a bowed page edge passes. The preview and
    the capture search on the same copy with this same test, so they always agree.
    """
    q = quad.astype(np.float32)
    centre = q.mean(axis=0)
    t = np.linspace(0.1, 0.9, samples, dtype=np.float32)
    steps = []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        d = b - a
        length = float(np.linalg.norm(d)) + 1e-6
        n = np.array([-d[1], d[0]], np.float32) / length
        if np.dot(centre - a, n) < 0:
            n = -n  # n points into the page
        straight = _profiles(grey, a, d, n, t, np.array([offset, -offset], np.float32))
        step = float(np.median(straight[:, 0] - straight[:, 1]))
        if abs(step) < min_step and bow > 0:
            step = _bowed_step(grey, a, d, n, t, offset, max(offset, bow * length), step)
        steps.append(step)
    return steps


def _bowed_step(
    grey: np.ndarray,
    a: np.ndarray,
    d: np.ndarray,
    n: np.ndarray,
    t: np.ndarray,
    offset: float,
    band: float,
    straight: float,
) -> float:
    """The side's step where the edge is allowed to curve within ±``band`` px (see ``_side_steps``)."""
    half = int(round(offset))
    span = int(math.ceil(band))
    offs = np.arange(-span - half, span + half + 1, dtype=np.float32)
    vals = _profiles(grey, a, d, n, t, offs)
    across = vals[:, 2 * half :] - vals[:, : -2 * half]  # inside − outside, centred on offs[half:-half]
    best = straight
    rows = np.arange(len(t))
    for sign in (1.0, -1.0):
        k = np.argmax(sign * across, axis=1)
        peak = across[rows, k]
        pos = k.astype(np.float64)
        fit = np.polyval(np.polyfit(t.astype(np.float64), pos, 2), t)
        inliers = np.abs(pos - fit) <= 1.5
        if inliers.mean() < 0.7:
            continue
        value = float(np.median(peak[inliers]))
        if abs(value) > abs(best) and value * sign > 0:
            best = value
    return best


def _plausible(quad: Quad, image_area: float, params: FinderParams) -> bool:
    area = quad_area(quad)
    if not params.min_area_fraction * image_area <= area <= params.max_area_fraction * image_area:
        return False
    if not is_convex(quad):
        return False
    if any(not params.min_angle_deg <= a <= params.max_angle_deg for a in interior_angles(quad)):
        return False
    top, right, bottom, left = side_lengths(quad)
    w, h = (top + bottom) / 2, (left + right) / 2
    return min(w, h) > 8 and max(w, h) / min(w, h) <= params.max_aspect


def _checked(
    quads: list[Quad], source: str, blur: np.ndarray, image_area: float, params: FinderParams
) -> list[Candidate]:
    out = []
    for quad in quads:
        if not _plausible(quad, image_area, params):
            continue
        steps = _side_steps(blur, quad, min_step=params.min_step, bow=params.max_bow)
        strong = sum(abs(s) >= params.min_step for s in steps)
        if strong == 3:
            # one weak side next to strong ones: usually a corner dragged off by something bright
            # touching the page (a spot on a patterned cloth). Re-fit the four sides on their own
            # edges, as the full-frame refinement does, and judge the snapped outline instead.
            top, right, bottom, left = side_lengths(quad)
            snapped = refine_corners(blur, quad, radius=max(4.0, 0.12 * min(top, right, bottom, left)))
            if snapped is not quad and _plausible(snapped, image_area, params):
                quad = snapped
                steps = _side_steps(blur, quad, min_step=params.min_step, bow=params.max_bow)
        elif strong == 4 and abs(min(steps, key=abs)) < 0.5 * float(np.median(np.abs(steps))):
            # all four sides pass, but one far more weakly than the rest: a corner dragged a few
            # pixels onto a bright stripe of a cloth still leaves a step along most of the side
            # (a 12 MP photo of A4 on plaid: 38 px off). Snap as above; keep the snapped outline
            # only when its weakest side reads stronger. A narrow search (3 % of the side): the
            # corner is only a few pixels off, and a wide one would catch the stripe's own edge.
            top, right, bottom, left = side_lengths(quad)
            snapped = refine_corners(blur, quad, radius=max(4.0, 0.03 * min(top, right, bottom, left)))
            if snapped is not quad and _plausible(snapped, image_area, params):
                snapped_steps = _side_steps(blur, snapped, min_step=params.min_step, bow=params.max_bow)
                if min(abs(s) for s in snapped_steps) > min(abs(s) for s in steps):
                    quad, steps = snapped, snapped_steps
        same_sign = all(s > 0 for s in steps) or all(s < 0 for s in steps)
        weakest = min(steps, key=abs)
        if weakest < 0 and same_sign and abs(weakest) >= params.min_step:
            # darker inside than around: a dark page on a bright desk, or a ruled table printed on
            # white paper filling the frame (a flat scan). Paper is darker than its surround well
            # beyond the edge; a printed frame is white again a few pixels further in.
            far = _side_steps(blur, quad, offset=8.0, bow=0.0)
            if not all(f <= -params.min_step for f in far):
                continue
        elif weakest > 0 and same_sign and weakest >= params.min_step and source == "edges":
            # brighter inside, found by Canny (so the brightness masks saw no page): on white paper
            # filling the frame, a blank table cell or a box ruled around blank paper is bright
            # inside thin dark lines. A desk stays darker than the page well beyond the page's
            # edge; paper is white again a few pixels outside a printed line (a 12 MP flat scan's
            # blank cell was taken for the page). The edge may bow as in the first reading.
            far = _side_steps(blur, quad, offset=8.0, bow=params.max_bow, min_step=params.min_step)
            if not all(f >= params.min_step for f in far):
                continue
        if same_sign and abs(weakest) >= params.min_step:
            out.append(Candidate(quad, quad_area(quad), weakest, source))
    return out


def find_candidates(small_bgr: np.ndarray, params: FinderParams | None = None) -> list[Candidate]:
    """Every plausible page outline in ``small_bgr``, best first: brighter than its surround, largest."""
    params = params or FinderParams()
    grey = _to_grey(small_bgr)
    h, w = grey.shape
    image_area = float(h * w)
    min_area = params.min_area_fraction * image_area
    blur = cv2.GaussianBlur(grey, (5, 5), 0)
    # both masks always: under a hard shadow the brightness mask alone cuts the page in two, and
    # the lit half passes every check (the shadow's edge is a real step); the whiteness mask keeps
    # the page whole, and the larger outline wins below
    masks = _segment_masks(small_bgr, grey)
    out = _checked(_segment_candidates(small_bgr, grey, min_area, masks=masks), "segment", blur, image_area, params)
    if not out:
        quads = _segment_candidates(small_bgr, grey, min_area, wide=True, masks=masks)
        out = _checked(quads, "segment", blur, image_area, params)
    if not out or params.always_try_edges:
        out += _checked(_edge_candidates(blur, min_area, params), "edges", blur, image_area, params)
    # brighter-than-desk outlines first (paper on a desk or on the camera's dark mat: the mat is a
    # bigger, darker quad and must not win), then the largest
    out.sort(key=lambda c: (c.step > 0, c.area), reverse=True)
    return out


def best_quad(small_bgr: np.ndarray, params: FinderParams | None = None) -> tuple[Quad | None, int]:
    """The best plausible outline (or None) and how many plausible outlines there were."""
    cands = find_candidates(small_bgr, params)
    return (cands[0].quad if cands else None), len(cands)


def refine_corners(frame: np.ndarray, quad: Quad, radius: float, samples: int = 40) -> Quad:
    """Re-measure each side on the full frame and intersect the fitted lines.

    For each side, brightness profiles across the side (±``radius`` px, averaged over a few
    neighbouring rows against noise) give the position of the strongest step with sub-pixel
    interpolation; a robust line fit through those points and the intersection of neighbouring
    lines give the corners. A corner that would move further than the search radius keeps its
    coarse position (the profiles saw something else than the page edge).
    """
    q = quad.astype(np.float64)
    centre = q.mean(axis=0)
    r = max(2, math.ceil(radius))
    offs = np.arange(-r, r + 1, dtype=np.float64)
    along = np.array([-1.0, 0.0, 1.0])
    lines = []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        d = b - a
        length = np.linalg.norm(d)
        if length < 4 * r:
            return quad
        u = d / length
        n = np.array([-u[1], u[0]])
        if np.dot(centre - a, n) < 0:
            n = -n  # into the page
        t = np.linspace(0.06, 0.94, samples)
        base = a[None, :] + t[:, None] * d[None, :]  # (S, 2)
        # grid (S, 3 rows along, P offsets), from outside (-r) to inside (+r)
        pts = (
            base[:, None, None, :]
            + along[None, :, None, None] * u[None, None, None, :]
            + offs[None, None, :, None] * n[None, None, None, :]
        )
        mapx = pts[..., 0].reshape(samples * 3, -1).astype(np.float32)
        mapy = pts[..., 1].reshape(samples * 3, -1).astype(np.float32)
        vals = cv2.remap(frame, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        vals = vals.astype(np.float32)
        if vals.ndim == 3:
            vals = vals.mean(axis=2)
        prof = vals.reshape(samples, 3, -1).mean(axis=1)  # (S, P)
        deriv = np.diff(prof, axis=1)  # step between offs[k] and offs[k+1]
        deriv = cv2.GaussianBlur(deriv, (3, 1), 0) if deriv.shape[1] >= 3 else deriv
        sign = 1.0 if np.median(deriv.sum(axis=1)) >= 0 else -1.0
        deriv = deriv * sign
        k = np.argmax(deriv, axis=1)
        peak = deriv[np.arange(samples), k]
        good = peak > 0.35 * max(float(np.median(peak)), 1e-6)
        rows = np.nonzero(good)[0]
        if len(rows) < max(6, samples // 4):
            return quad
        # sub-pixel peak: a parabola through the peak and its neighbours (all samples at once)
        kk = k[rows]
        inner = (kk > 0) & (kk < deriv.shape[1] - 1)
        km, kp = np.clip(kk - 1, 0, deriv.shape[1] - 1), np.clip(kk + 1, 0, deriv.shape[1] - 1)
        y0, y1, y2 = deriv[rows, km], deriv[rows, kk], deriv[rows, kp]
        den = y0 - 2 * y1 + y2
        use = inner & (den < 0)
        delta = np.zeros(len(rows), np.float64)
        delta[use] = np.clip(0.5 * (y0[use] - y2[use]) / den[use], -0.5, 0.5)
        pos = offs[kk] + 0.5 + delta
        pts_fit = base[rows] + pos[:, None] * n[None, :]
        vx, vy, x0, y0 = cv2.fitLine(pts_fit.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).reshape(4)
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    out = np.empty((4, 2), np.float64)
    for i in range(4):
        (p1, d1), (p2, d2) = lines[i - 1], lines[i]  # side i-1 ends at corner i, side i starts there
        m = np.array([d1, -d2]).T
        det = np.linalg.det(m)
        if abs(det) < 1e-6:
            return quad
        s, _ = np.linalg.solve(m, p2 - p1)
        out[i] = p1 + s * d1
    if np.max(np.linalg.norm(out - q, axis=1)) > 1.5 * r:
        log.debug("refined corners moved too far; keeping the coarse ones")
        return quad
    return out.astype(np.float32)
