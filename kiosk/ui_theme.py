"""Sizes, colours and large-text scaling for the touchscreen, computed from the window size.

Everything is derived from the short side of the window so that the same layouts work on the
common 1080 × 1920 portrait and 1920 × 1080 landscape kiosk screens and at the reduced scale the
headless tests use. Touch targets follow the 15 mm rule with margin: 120 px on a 1080 px short side
is 30 mm on a 21.5" panel (0.25 mm/px) and more on the bigger ones. The panel's diagonal comes from
the configuration (``[ui] screen_diagonal_in``), so a small panel gets bigger buttons in pixels and
no target is ever under 15 mm on the glass.

Elder mode (长辈模式) is more than large text: text ×1.35, touch targets ×1.15 and at least 20 mm,
one main action per screen (``screens.base``), fewer words (``i18n``), doubled time-outs.

Colours: every text colour meets WCAG AA (contrast ≥ 4.5:1) on the background it is drawn on —
white on PRIMARY / SECONDARY / OK / DANGER / HEADER, TEXT / MUTED / WARNING_TEXT / OK / DANGER on
BACKGROUND — which ``tests/test_ui_screens.py`` measures on the rendered screens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REFERENCE_SHORT_SIDE = 1080  # px on the short side of the kiosk screens we design for
TOUCH_MIN_AT_REFERENCE = 120  # px: 15 mm at the reference screen's pixel pitch
LARGE_TEXT_FACTOR = 1.35  # how much bigger every text gets in large-text mode (elderly residents)
ELDER_TOUCH_FACTOR = 1.15  # and every touch target (normal ones are already 30 mm on the reference panel)
TOUCH_MIN_MM = 15.0
ELDER_TOUCH_MIN_MM = 20.0
DEFAULT_DIAGONAL_IN = 21.5

SIZES = {
    "portrait": (1080, 1920),
    "landscape": (1920, 1080),
}

# colours as RGBA 0..1; high contrast, calm blue for actions, amber for warnings
BACKGROUND = (0.96, 0.97, 0.98, 1)
HEADER = (0.08, 0.29, 0.55, 1)
TEXT = (0.1, 0.1, 0.12, 1)
TEXT_ON_DARK = (1, 1, 1, 1)
MUTED = (0.33, 0.37, 0.42, 1)  # captions ("姓名"): 6:1 on BACKGROUND
PRIMARY = (0.06, 0.37, 0.72, 1)
SECONDARY = (0.33, 0.37, 0.42, 1)
WARNING = (0.9, 0.55, 0.05, 1)  # fills and strokes only; text uses WARNING_TEXT
WARNING_TEXT = (0.62, 0.34, 0.0, 1)
DANGER = (0.78, 0.16, 0.16, 1)
OK = (0.09, 0.46, 0.22, 1)
DISABLED = (0.75, 0.77, 0.8, 1)
DISABLED_TEXT = (0.2, 0.2, 0.24, 1)
OTHER = (0.86, 0.91, 0.97, 1)  # elder mode's other (not main, not a way out) actions: light, dark-blue text
HELP = (0.72, 0.12, 0.12, 1)  # the call-for-help button: red, the one colour that means "a person"
STEP_TODO = (0.84, 0.86, 0.89, 1)
OUTLINE = (0.1, 0.85, 0.3, 1)
# the illustrations: the kiosk body, the device being used (highlighted), a hand, paper
KIOSK_BODY = (0.78, 0.81, 0.85, 1)
KIOSK_DARK = (0.2, 0.22, 0.26, 1)
HIGHLIGHT = (1.0, 0.72, 0.1, 1)
SKIN = (0.96, 0.78, 0.62, 1)
SKIN_LINE = (0.62, 0.42, 0.3, 1)
PAPER = (1, 1, 1, 1)


@dataclass(frozen=True)
class Metrics:
    """Pixel sizes for one window size and text mode."""

    unit: float  # 1 "design pixel" of the 1080-wide reference, in real px
    touch: float  # minimum touch target (15 mm)
    font_title: float
    font_body: float
    font_small: float
    font_huge: float
    padding: float
    spacing: float
    mm_per_px: float = 0.0  # on the configured panel (0: unknown)


def mm_per_px(width: float, height: float, diagonal_in: float = DEFAULT_DIAGONAL_IN) -> float:
    """Millimetres per window pixel when the window fills a panel of ``diagonal_in`` inches."""
    return diagonal_in * 25.4 / max(math.hypot(width, height), 1.0)


def metrics(width: float, height: float, large_text: bool = False, diagonal_in: float = DEFAULT_DIAGONAL_IN) -> Metrics:
    unit = min(width, height) / REFERENCE_SHORT_SIDE
    landscape = width > height  # a short screen: elder mode grows text less and targets only to 20 mm
    text = unit * ((1.2 if landscape else LARGE_TEXT_FACTOR) if large_text else 1.0)
    mm = mm_per_px(width, height, diagonal_in)
    touch = max(TOUCH_MIN_AT_REFERENCE * unit, TOUCH_MIN_MM / mm, 1.0)
    if large_text:
        touch = max(touch * (1.0 if landscape else ELDER_TOUCH_FACTOR), ELDER_TOUCH_MIN_MM / mm)
    return Metrics(
        unit=unit,
        mm_per_px=mm,
        touch=touch,
        font_title=56 * text,
        font_body=42 * text,
        font_small=32 * text,
        font_huge=96 * text,
        padding=28 * unit,
        spacing=20 * unit,
    )


def window_size(orientation: str, scale: float = 1.0) -> tuple[int, int]:
    """The window size for an orientation ("portrait"/"landscape") at a scale (tests render at 0.5)."""
    w, h = SIZES.get(orientation, SIZES["portrait"])
    return round(w * scale), round(h * scale)
