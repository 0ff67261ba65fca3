"""Synthetic document-camera photos with a known truth, for tests and benchmarks.

This is the document scanner's simulator: a rendered page (text, a ruled table, a QR code)
warped by a known perspective onto a textured desk, with uneven light, sensor noise and,
on request, blur or a glare spot. The true corners come with the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import qrcode

FRAME_SIZE = (2592, 1944)  # 5 MP, the usual document camera


@dataclass(frozen=True)
class SyntheticPhoto:
    frame: np.ndarray
    corners: np.ndarray | None  # true tl, tr, br, bl in frame pixels (None: no page in the photo)
    qr_data: str | None
    page_size: tuple[int, int]  # rendered page width, height


def qr_image(data: str, box: int = 8) -> np.ndarray:
    qr = qrcode.QRCode(border=4, box_size=box, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    qr.make(fit=True)
    img = qr.make_image(fill_color="black", back_color="white").convert("L")
    return np.array(img, dtype=np.uint8)


def render_page(width: int, height: int, *, qr_data: str | None, seed: int = 0) -> np.ndarray:
    """A form-like page: title, paragraphs of 'text', a table and a QR code top right."""
    rng = np.random.default_rng(seed)
    page = np.full((height, width, 3), 238, np.uint8)
    scale = width / 1000.0
    margin = int(70 * scale)
    y = int(110 * scale)
    cv2.putText(
        page,
        "APPLICATION FORM 2026",
        (margin, y),
        cv2.FONT_HERSHEY_DUPLEX,
        1.6 * scale,
        (20, 20, 20),
        max(1, int(3 * scale)),
        cv2.LINE_AA,
    )
    y += int(90 * scale)
    words = ["name", "address", "service", "centre", "date", "number", "resident", "signature", "town"]
    while y < height * 0.55:
        line = " ".join(rng.choice(words, size=5))
        cv2.putText(
            page,
            line,
            (margin, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.9 * scale,
            (30, 30, 30),
            max(1, int(2 * scale)),
            cv2.LINE_AA,
        )
        y += int(42 * scale)
    top = y
    for r in range(7):
        yy = top + int(r * 55 * scale)
        cv2.line(page, (margin, yy), (width - margin, yy), (40, 40, 40), max(1, int(2 * scale)))
    for x in np.linspace(margin, width - margin, 4).astype(int):
        cv2.line(page, (int(x), top), (int(x), top + int(6 * 55 * scale)), (40, 40, 40), max(1, int(2 * scale)))
    cv2.circle(page, (int(width * 0.75), int(height * 0.88)), int(60 * scale), (40, 40, 200), max(2, int(4 * scale)))
    if qr_data is not None:
        qr = qr_image(qr_data)
        side = int(220 * scale)
        qr = cv2.resize(qr, (side, side), interpolation=cv2.INTER_NEAREST)
        x0, y0 = width - margin - side, int(150 * scale)
        page[y0 : y0 + side, x0 : x0 + side] = np.where(qr[..., None] > 127, 238, 15).astype(np.uint8)
    return page


def wood_background(size: tuple[int, int] = FRAME_SIZE, seed: int = 1) -> np.ndarray:
    """Brown desk with grain: streaks along x with wobble, knots of darker rings, fine noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    sw, sh = w // 4, h // 4
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    wobble = 6 * np.sin(xx / 37.0 + rng.uniform(0, 6)) + 3 * np.sin(xx / 11.0)
    grain = 0.5 + 0.5 * np.sin((yy + wobble) / 2.3 + 2 * np.sin(yy / 29.0))
    grain = grain * 0.6 + 0.4 * rng.random((sh, sw)).astype(np.float32)
    grain = cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)
    base = np.array([40, 80, 130], np.float32)  # BGR brown
    img = np.clip(base[None, None, :] * (0.7 + 0.5 * grain[..., None]), 0, 255).astype(np.uint8)
    # sharp dark grain lines at full resolution: what makes a full-frame Canny see wood everywhere
    xs = np.arange(0, w + 40, 40, dtype=np.float64)
    for _ in range(160):
        y0, amp, period = rng.uniform(0, h), rng.uniform(2, 25), rng.uniform(150, 900)
        ys = y0 + amp * np.sin(xs / period * 2 * np.pi + rng.uniform(0, 6))
        pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
        shade = tuple(int(c) for c in base * rng.uniform(0.35, 0.6))
        cv2.polylines(img, [pts], False, shade, int(rng.integers(1, 4)), cv2.LINE_AA)
    return img


def cloth_background(size: tuple[int, int] = FRAME_SIZE, seed: int = 2) -> np.ndarray:
    """Patterned tablecloth: a coloured plaid with light stripes as bright as paper in places."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    stripes_x = ((xx // 60) % 3 == 0).astype(np.float32)
    stripes_y = ((yy // 60) % 3 == 0).astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[..., 0] = 90 + 60 * stripes_x
    img[..., 1] = 60 + 50 * stripes_y
    img[..., 2] = 150 + 60 * stripes_x * stripes_y
    rng = np.random.default_rng(seed)
    img += rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def compose(
    background: np.ndarray,
    page: np.ndarray | None,
    corners: np.ndarray | None,
    *,
    light: bool = True,
    noise_sigma: float = 4.0,
    blur_sigma: float = 0.0,
    glare: bool = False,
    seed: int = 3,
    page_alpha: np.ndarray | None = None,
    shade: np.ndarray | None = None,
) -> np.ndarray:
    """Put ``page`` onto ``background`` with its outer edges at ``corners`` (pixel centres).

    ``page_alpha`` (page-sized, 0-1) cuts the page's shape (a bowed edge, a curled corner);
    ``shade`` (frame-sized gain) darkens the whole scene after composing (a shadow, side light).
    """
    h, w = background.shape[:2]
    img = background.astype(np.float32)
    if page is not None and corners is not None:
        ph, pw = page.shape[:2]
        src = np.array([[-0.5, -0.5], [pw - 0.5, -0.5], [pw - 0.5, ph - 0.5], [-0.5, ph - 0.5]], np.float32)
        m = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
        # alpha from a zero-padded mask: bilinear interpolation puts the 50 % crossing exactly on the
        # page's outer edge, so the truth is sub-pixel without a supersampled warp
        mask_src = np.zeros((ph + 2, pw + 2), np.float32)
        mask_src[1:-1, 1:-1] = 1.0 if page_alpha is None else page_alpha
        shift = np.array([[1, 0, 1], [0, 1, 1], [0, 0, 1]], np.float64)  # page px -> padded px
        m_pad = m @ np.linalg.inv(shift)
        alpha = cv2.warpPerspective(mask_src, m_pad, (w, h), flags=cv2.INTER_LINEAR)[..., None]
        warped = cv2.warpPerspective(page, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img = img * (1 - alpha) + warped.astype(np.float32) * alpha
        if glare:
            c = corners.mean(axis=0)
            spot = np.zeros((h, w), np.float32)
            r = int(0.12 * np.linalg.norm(corners[2] - corners[0]))
            cv2.circle(spot, (int(c[0]), int(c[1])), r, 1.0, -1)
            spot = cv2.GaussianBlur(spot, (0, 0), r / 6)
            img = img + spot[..., None] * 400.0
    if light:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        gain = 0.62 + 0.38 * (xx / w) * 0.6 + 0.38 * (1 - yy / h) * 0.4
        img = img * gain[..., None]
        if glare:
            img = np.maximum(img, 0)
    if shade is not None:
        img = img * shade[..., None]
    if blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_sigma)
    if noise_sigma > 0:
        rng = np.random.default_rng(seed)
        img += rng.normal(0, noise_sigma, img.shape[:2] + (1,)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def project_rectangle(
    width_mm: float,
    height_mm: float,
    *,
    px_per_mm: float,
    centre_mm: tuple[float, float] = (0.0, 0.0),
    turn_deg: float = 0.0,
    tilt_x_deg: float = 0.0,
    tilt_y_deg: float = 0.0,
    focal_px: float = 2600.0,
    frame_size: tuple[int, int] = FRAME_SIZE,
) -> np.ndarray:
    """Frame corners (tl, tr, br, bl) of a real rectangle seen by a pinhole camera above the desk.

    The desk is at the distance that gives ``px_per_mm`` in the image centre; the page is turned
    in the desk plane, offset by ``centre_mm`` and the desk tilted: a true perspective, so the
    aspect-ratio recovery is tested against the real thing, not a hand-drawn quad.
    """
    z = focal_px / px_per_mm
    t = np.radians(turn_deg)
    rz = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
    a = np.radians(tilt_x_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    b = np.radians(tilt_y_deg)
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    hw, hh = width_mm / 2, height_mm / 2
    local = np.array([[-hw, -hh, 0], [hw, -hh, 0], [hw, hh, 0], [-hw, hh, 0]], np.float64)
    local = local @ rz.T + np.array([centre_mm[0], centre_mm[1], 0.0])
    world = local @ (ry @ rx).T + np.array([0.0, 0.0, z])
    cx, cy = frame_size[0] / 2.0, frame_size[1] / 2.0
    u = focal_px * world[:, 0] / world[:, 2] + cx
    v = focal_px * world[:, 1] / world[:, 2] + cy
    return np.stack([u, v], axis=1).astype(np.float32)


def a4_photo(
    *,
    background: str = "wood",
    blur_sigma: float = 0.0,
    glare: bool = False,
    qr_data: str | None = "KIOSK-2026-000123",
    seed: int = 0,
    mat: bool = False,
) -> SyntheticPhoto:
    """An A4 page filling about half the 5 MP frame, turned and seen slightly obliquely."""
    pw, ph = 1240, 1754  # A4 at 150 dpi
    page = render_page(pw, ph, qr_data=qr_data, seed=seed)
    scale = 5.0 if mat else 5.8  # px/mm: leave room for the mat around the page
    corners = project_rectangle(
        210, 297, px_per_mm=scale, centre_mm=(12, 4), turn_deg=7.0, tilt_x_deg=9.0, tilt_y_deg=-6.0
    )
    bg = wood_background(seed=seed + 1) if background == "wood" else cloth_background(seed=seed + 1)
    if mat:  # the document camera's dark mat under the page: a bigger, darker quadrilateral
        mat_quad = project_rectangle(
            280, 350, px_per_mm=scale, centre_mm=(5, 0), turn_deg=3.0, tilt_x_deg=9.0, tilt_y_deg=-6.0
        )
        cv2.fillConvexPoly(bg, mat_quad.round().astype(np.int32), (38, 36, 34), cv2.LINE_AA)
    frame = compose(bg, page, corners, blur_sigma=blur_sigma, glare=glare, seed=seed + 2)
    return SyntheticPhoto(frame, corners, qr_data, (pw, ph))


def small_photo(*, background: str = "wood", qr_data: str = "RECEIPT-42", seed: int = 0) -> SyntheticPhoto:
    """A receipt-sized page (well under a quarter of the frame), slightly turned."""
    pw, ph = 500, 1000
    page = render_page(pw, ph, qr_data=qr_data, seed=seed)
    corners = project_rectangle(
        80, 160, px_per_mm=5.0, centre_mm=(60, 30), turn_deg=-12.0, tilt_x_deg=4.0, tilt_y_deg=3.0
    )
    bg = wood_background(seed=seed + 1) if background == "wood" else cloth_background(seed=seed + 1)
    frame = compose(bg, page, corners, seed=seed + 2)
    return SyntheticPhoto(frame, corners, qr_data, (pw, ph))


def empty_photo(*, background: str = "wood", seed: int = 0) -> SyntheticPhoto:
    """The desk with nothing on it."""
    bg = wood_background(seed=seed + 1) if background == "wood" else cloth_background(seed=seed + 1)
    return SyntheticPhoto(compose(bg, None, None, seed=seed + 2), None, None, (0, 0))


# -- the hard cases seen on real photos --------------------------------------------------------


def _a4_corners(px_per_mm: float = 5.8) -> np.ndarray:
    return project_rectangle(
        210, 297, px_per_mm=px_per_mm, centre_mm=(12, 4), turn_deg=7.0, tilt_x_deg=9.0, tilt_y_deg=-6.0
    )


def bowed_photo(*, bow_px: float = 43.0, curl: bool = False, seed: int = 0) -> SyntheticPhoto:
    """An A4 page on wood whose right edge bows inward by ``bow_px`` (a page that does not lie flat).

    The page content is squeezed with the edge, as paper that arches up is seen from above, and with
    ``curl`` the bottom-right corner also curls up (a rounded cut with a shadow under it). The true
    corners are those of the flat sheet: the bowed side still starts and ends at them.
    """
    pw, ph = 1240, 1754
    page = render_page(pw, ph, qr_data="KIOSK-2026-000777", seed=seed)
    corners = _a4_corners()
    scale = float(np.linalg.norm(corners[1] - corners[0])) / pw  # frame px per page px
    b = bow_px / scale
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    edge = pw - b * np.sin(np.pi * (yy + 0.5) / ph)  # where the right edge now is, per row
    src_x = xx * pw / edge  # content squeezed towards the left as the edge moves in
    page = cv2.remap(page, src_x, yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = np.clip(edge - xx, 0.0, 1.0).astype(np.float32)
    if curl:
        r = 0.09 * pw  # a corner rounded off by ~9 % of the width
        d = np.hypot(np.maximum(xx - (pw - r), 0), np.maximum(yy - (ph - r), 0))
        alpha = np.minimum(alpha, np.clip(r - d, 0.0, 1.0))
    bg = wood_background(seed=seed + 1)
    shade = None
    if curl:  # the lifted corner casts a soft shadow on the desk
        spot = np.zeros(bg.shape[:2], np.float32)
        cv2.circle(spot, tuple(int(v) for v in corners[2]), int(0.06 * scale * pw), 1.0, -1)
        shade = 1.0 - 0.35 * cv2.GaussianBlur(spot, (0, 0), 25)
    frame = compose(bg, page, corners, seed=seed + 2, page_alpha=alpha, shade=shade)
    return SyntheticPhoto(frame, corners, "KIOSK-2026-000777", (pw, ph))


def white_scan_photo(*, qr_data: str = "SCAN-2026-0042", seed: int = 0) -> SyntheticPhoto:
    """A clean flat scan: white paper filling the whole frame, evenly lit, paper at 250-255.

    There is no outline to find (the page is the frame) and nothing is glare: the bright area has
    text in it and is no brighter than the paper around it.
    """
    w, h = FRAME_SIZE
    page = render_page(1944, 2592, qr_data=qr_data, seed=seed)
    page = cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE)  # landscape frame, portrait form turned
    paper = np.where(page >= 230, 253, page).astype(np.uint8)  # scanner white, not 238 grey
    frame = compose(paper, None, None, light=False, noise_sigma=1.5, seed=seed + 2)
    return SyntheticPhoto(frame, None, qr_data, (w, h))


def pattern_background(size: tuple[int, int] = FRAME_SIZE, seed: int = 4) -> np.ndarray:
    """A busy printed tablecloth: white and coloured flowers and dots as bright as paper."""
    w, h = size
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (60, 120, 40)  # green
    for _ in range(900):
        c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        r = int(rng.integers(8, 40))
        colour = [(245, 245, 245), (40, 40, 200), (30, 200, 230), (200, 80, 60)][int(rng.integers(0, 4))]
        cv2.circle(img, c, r, colour, -1, cv2.LINE_AA)
        cv2.circle(img, c, max(2, r // 3), (20, 20, 20), -1, cv2.LINE_AA)
    return img


def receipt_on_pattern_photo(*, qr_data: str = "RCPT-7", seed: int = 0) -> SyntheticPhoto:
    """A 58 mm till receipt (about 2.5 % of the frame) on a busy patterned tablecloth."""
    pw, ph = 348, 720
    page = render_page(pw, ph, qr_data=qr_data, seed=seed)
    corners = project_rectangle(
        58, 120, px_per_mm=5.0, centre_mm=(-70, 20), turn_deg=18.0, tilt_x_deg=4.0, tilt_y_deg=-3.0
    )
    frame = compose(pattern_background(seed=seed + 4), page, corners, seed=seed + 2)
    return SyntheticPhoto(frame, corners, qr_data, (pw, ph))


def side_light_photo(*, seed: int = 0) -> SyntheticPhoto:
    """An A4 page on wood under strong light from the left, a hard shadow band across page and desk."""
    pw, ph = 1240, 1754
    page = render_page(pw, ph, qr_data="KIOSK-2026-000555", seed=seed)
    corners = _a4_corners()
    w, h = FRAME_SIZE
    xx = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    shade = np.repeat(1.25 - 0.85 * xx, h, axis=0)  # bright left, dim right
    band = np.zeros((h, w), np.float32)
    poly = np.array([[0, int(0.45 * h)], [w, int(0.30 * h)], [w, int(0.42 * h)], [0, int(0.60 * h)]], np.int32)
    cv2.fillConvexPoly(band, poly, 1.0, cv2.LINE_AA)  # an arm's or the camera arm's shadow
    shade = shade * (1.0 - 0.55 * cv2.GaussianBlur(band, (0, 0), 4))
    frame = compose(wood_background(seed=seed + 1), page, corners, light=False, seed=seed + 2, shade=shade)
    return SyntheticPhoto(frame, corners, "KIOSK-2026-000555", (pw, ph))


# -- phone-sized photos (12 MP) ------------------------------------------------------------------

PHONE_FRAME_SIZE = (3024, 4032)  # a phone's 12 MP photo, portrait, as a page is photographed


def phone_a4_photo(
    *, qr_data: str | None = "KIOSK-2026-000900", background: str = "wood", seed: int = 0
) -> SyntheticPhoto:
    """A 12 MP portrait photo of an A4 page at ~310 dpi, as the outside tester's phone photos were.

    The page is rendered at 300 dpi (not upscaled from 150: the text is as fine as the photo) and
    seen slightly obliquely. This is where ``ScanOptions.max_dpi`` matters: the page lies at about
    310 dpi in the photo and is straightened at 200.
    """
    pw, ph = 2480, 3508  # A4 at 300 dpi
    page = render_page(pw, ph, qr_data=qr_data, seed=seed)
    corners = project_rectangle(
        210,
        297,
        px_per_mm=12.2,
        centre_mm=(3, 10),
        turn_deg=4.0,
        tilt_x_deg=4.0,
        tilt_y_deg=-4.0,
        focal_px=3200.0,
        frame_size=PHONE_FRAME_SIZE,
    )
    make_bg = wood_background if background == "wood" else cloth_background
    frame = compose(make_bg(size=PHONE_FRAME_SIZE, seed=seed + 1), page, corners, seed=seed + 2)
    return SyntheticPhoto(frame, corners, qr_data, (pw, ph))


def upscaled(photo: SyntheticPhoto, size: tuple[int, int] = (4032, 3024)) -> SyntheticPhoto:
    """``photo`` resampled (bicubic) to a 12 MP frame, its truth scaled with it."""
    h, w = photo.frame.shape[:2]
    frame = cv2.resize(photo.frame, size, interpolation=cv2.INTER_CUBIC)
    corners = None
    if photo.corners is not None:
        s = np.array([size[0] / w, size[1] / h], np.float32)
        corners = ((photo.corners + 0.5) * s - 0.5).astype(np.float32)
    return SyntheticPhoto(frame, corners, photo.qr_data, photo.page_size)


def barcode_image(text: str, *, module_px: int = 2, height_px: int = 90) -> np.ndarray:
    """A Code 128 barcode (grey, black bars on white, quiet zones included), via zxing-cpp's writer."""
    import zxingcpp

    img = np.array(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.Code128).to_image(scale=module_px))
    return cv2.resize(img, (img.shape[1], height_px), interpolation=cv2.INTER_NEAREST)


def barcode_photo(*, text: str = "DOC-2026-0815", sideways: bool = True, seed: int = 0) -> SyntheticPhoto:
    """An A4 form on wood with no QR code but a Code 128 barcode along its right margin.

    ``sideways``: the bars run across the page (the barcode printed turned 90°, as on many
    government forms' margins); else upright near the top. Bars 2 px wide on the 150-dpi page
    (0.34 mm), ~1.5 px in the photo: too fine for the reduced copy, so this is what the
    full-resolution pass is for.
    """
    pw, ph = 1240, 1754
    page = render_page(pw, ph, qr_data=None, seed=seed)
    bars = barcode_image(text)
    if sideways:
        bars = cv2.rotate(bars, cv2.ROTATE_90_CLOCKWISE)
        y0, x0 = 420, pw - 60 - bars.shape[1]
    else:
        y0, x0 = 150, pw - 70 - bars.shape[1]
    h, w = bars.shape
    page[y0 : y0 + h, x0 : x0 + w] = np.where(bars[..., None] > 127, 238, 15).astype(np.uint8)
    corners = _a4_corners()
    frame = compose(wood_background(seed=seed + 1), page, corners, seed=seed + 2)
    return SyntheticPhoto(frame, corners, text, (pw, ph))
