"""Document scanning: our pipeline against the straightforward one, same photos, same process.

Baseline ("plain scanner", as the widely used open-source scanners do it): Canny + largest
4-corner contour on the full 5 MP frame, warp the full frame; nothing else. Ours: ``scan_page``
with the deposit's own options: search on a ~640 px copy with several candidate sources and
plausibility checks, refine corners on the full frame, warp once, quality checks, light
flattening on a small copy, code reading.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from devices.document import ScanOptions, find_page_outline, scan_page
from devices.document import synthetic as syn
from devices.document.geometry import order_corners, side_lengths
from devices.document.scanner import locate_page, straighten

REPEATS = 3
FOUND_PX = 25.0  # worst corner error that still counts as the page found


def baseline_find(frame: np.ndarray) -> np.ndarray | None:
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 0), 75, 200)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for c in sorted(contours, key=cv2.contourArea, reverse=True)[:10]:
        approx = cv2.approxPolyDP(c, 0.02 * cv2.arcLength(c, True), True)
        if len(approx) == 4:
            return order_corners(approx.reshape(4, 2))
    return None


def baseline_warp(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    quad = baseline_find(frame)
    if quad is None:
        return frame, None
    top, right, bottom, left = side_lengths(quad)
    return straighten(frame, quad, round(max(top, bottom)), round(max(left, right))), quad


def _median_ms(fn: Callable[[], object]) -> float:
    """Median CPU time of the process (all threads) over ``REPEATS`` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(REPEATS):
        t = time.process_time()
        fn()
        times.append((time.process_time() - t) * 1000)
    return statistics.median(times)


def _worst(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(found - truth, axis=1)))


def _err(found: np.ndarray | None, truth: np.ndarray | None) -> str:
    if found is None or truth is None:
        return "–"
    return f"{float(np.max(np.linalg.norm(found - truth, axis=1))):.1f} px"


def section() -> str:
    photos = {
        "A4 on wood": syn.a4_photo(background="wood"),
        "A4 on cloth": syn.a4_photo(background="cloth", seed=5),
        "A4 on dark mat": syn.a4_photo(mat=True, seed=2),
        "receipt on wood": syn.small_photo(background="wood"),
        "receipt on cloth": syn.small_photo(background="cloth", seed=5),
        "page bowed 43 px": syn.bowed_photo(bow_px=43),
        "bowed, curled corner": syn.bowed_photo(bow_px=25, curl=True),
        "58 mm receipt on pattern": syn.receipt_on_pattern_photo(),
        "side light + shadow": syn.side_light_photo(),
        "white flat scan (no outline)": syn.white_scan_photo(),
    }
    opts = ScanOptions()  # exactly what the deposit runs (codes read, quality checked, enhanced)
    rows = []
    page_ratios, find_ratios = [], []
    found_ours = found_base = with_page = 0
    for name, ph in photos.items():
        frame = ph.frame
        t_ours = _median_ms(lambda frame=frame: scan_page(frame, options=opts))
        t_base = _median_ms(lambda frame=frame: baseline_warp(frame))
        t_ofind = _median_ms(lambda frame=frame: locate_page(frame, opts))
        t_bfind = _median_ms(lambda frame=frame: baseline_find(frame))
        t_prev = _median_ms(lambda frame=frame: find_page_outline(frame))
        page_ratios.append(t_ours / t_base)
        find_ratios.append(t_ofind / t_bfind)
        page = scan_page(frame, options=opts)
        bquad = baseline_find(frame)
        if ph.corners is not None:
            with_page += 1
            found_ours += page.found and _worst(page.corners, ph.corners) <= FOUND_PX
            found_base += bquad is not None and _worst(bquad, ph.corners) <= FOUND_PX
        codes = ", ".join(c.text or "?" for c in page.codes) or "–"
        rows.append(
            f"| {name} | {t_ours:.0f} | {t_base:.0f} | {t_ours / t_base:.2f}× | {t_ofind:.0f} | {t_bfind:.0f} "
            f"| {t_ofind / t_bfind:.2f}× | {t_prev:.0f} "
            f"| {'yes' if page.found else 'no'} ({_err(page.corners if page.found else None, ph.corners)}) "
            f"| {'yes' if bquad is not None else 'no'} ({_err(bquad, ph.corners)}) | {codes} |"
        )
    return "\n".join(
        [
            "## Document scanning (devices/document)\n",
            f"Per page on synthetic 5 MP (2592×1944) photos, median of {REPEATS} runs, CPU milliseconds of "
            "the process (all threads; CPU time because the machine's cores are shared and wall time "
            "swings with the other programs' load). *Ours* = `scan_page` with `ScanOptions()`, exactly "
            "the options the deposit runs: find, refine corners, straighten, quality checks (blur, "
            "glare), light flattening and code reading (zxing-cpp). *Plain scanner* = what the widely "
            "used open-source scanners do: Canny + largest 4-corner contour + warp on the full frame, "
            "no code reading, no checks. *Find* = corners only; *preview* = `find_page_outline` (the "
            "same search as the capture). *Found* gives the worst corner error against the truth; a "
            f"page counts as found within {FOUND_PX:.0f} px.\n",
            f"**Page time ratio (ours / plain scanner), median over the photos: "
            f"{statistics.median(page_ratios):.2f}×** (target ≤ 0.5×, not met: see below); find-only "
            f"ratio {statistics.median(find_ratios):.2f}×. Pages found on the {with_page} photos that show "
            f"one: **ours {found_ours}, plain scanner {found_base}** (the flat scan has no outline; ours "
            "then uses the whole frame and reads it).\n",
            "| photo | ours page | plain scanner | ratio | ours find | plain find | ratio | preview "
            "| ours found | plain found | codes read |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Why the page ratio stays above 0.5×: the plain scanner's whole work is one Canny pass on "
            "the 5 MP frame and one warp; ours warps the same page (the same cost), and adds the "
            "quality checks, the light flattening and the code reading the deposit needs. Our find "
            "alone is cheaper than the plain one; the rest cannot be done in no time. Code reading "
            "moved from zbar (260-400 ms a page) to zxing-cpp (10-15 ms CPU).\n",
        ]
    )


if __name__ == "__main__":
    print(section())
