"""The live page outline on the document screen: where the camera sees the paper, a few times a second.

Why a separate loop: the resident needs to see *before* pressing "scan" whether the whole page is in
view, but the full scan (straighten, enhance, quality checks on 5 MP) is far too heavy to run on
every preview frame. ``find_page_outline`` runs the capture's own page search on its ~640 px copy
(10-20 ms of CPU; the same copy and checks, so the outline shown is the page the scan will find);
this loop runs it on the newest frame ``interval`` apart, at background CPU priority so the touchscreen keeps its frame
rate, and reports only when the outline appears, disappears or moves noticeably — every report
becomes a new View, and a View per frame would make the screen redraw for nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from devices.cancel import CancelToken
from devices.cpu_priority import make_this_thread_background
from devices.document import ScanOptions, find_page_outline
from devices.errors import KioskError

log = logging.getLogger(__name__)

Outline = list[list[float]]  # four [x, y] corners as fractions of the frame, origin top-left


def outline_fractions(quad: np.ndarray, frame_shape: tuple[int, ...]) -> Outline:
    """Pixel corners → fractions of the frame (what the preview widget draws at any size)."""
    h, w = frame_shape[:2]
    return [[round(float(x) / w, 4), round(float(y) / h, 4)] for x, y in quad]


def moved(a: Outline | None, b: Outline | None, tolerance: float) -> bool:
    """True when the outline appeared, disappeared, or a corner moved more than ``tolerance``."""
    if a is None or b is None:
        return a is not b
    return any(abs(p[0] - q[0]) > tolerance or abs(p[1] - q[1]) > tolerance for p, q in zip(a, b, strict=True))


class PageOutliner:
    """Runs until ``cancel`` fires: newest frame → outline → ``on_change`` when it changed.

    ``latest`` returns the newest camera frame without taking it from the flow (the scan takes
    its own, newer frame). Errors from a bad frame are logged once and the loop goes on: the
    outline is a help, the scan itself reports real camera trouble.
    """

    def __init__(
        self,
        latest: Callable[[], np.ndarray | None],
        on_change: Callable[[Outline | None], None],
        cancel: CancelToken,
        *,
        interval: float = 0.25,
        tolerance: float = 0.01,
        options: ScanOptions | None = None,
    ) -> None:
        self.latest = latest
        self.on_change = on_change
        self.cancel = cancel
        self.interval = interval
        self.tolerance = tolerance
        self.options = options
        self.outlines_found = 0
        self.thread = threading.Thread(target=self._run, name="page-outline", daemon=True)

    def start(self) -> PageOutliner:
        self.thread.start()
        return self

    def _run(self) -> None:
        make_this_thread_background()
        shown: Outline | None = None
        warned = False
        while not self.cancel.cancelled:
            frame = self.latest()
            outline: Outline | None = None
            if frame is not None:
                try:
                    quad = find_page_outline(frame, self.options)
                except (KioskError, ValueError) as exc:
                    if not warned:
                        log.warning("page outline: %s", exc)
                        warned = True
                    quad = None
                if quad is not None:
                    outline = outline_fractions(quad, frame.shape)
                    self.outlines_found += 1
            if moved(shown, outline, self.tolerance) and not self.cancel.cancelled:
                shown = outline
                self.on_change(outline)
            self.cancel.wait(self.interval)
