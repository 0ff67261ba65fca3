"""Sizes, colours and large-text scaling for the touchscreen, computed from the window size.

Everything is derived from the short side of the window so that the same layouts work on the
common 1080 × 1920 portrait and 1920 × 1080 landscape kiosk screens and at the reduced scale the
headless tests use. Touch targets follow the 15 mm rule with margin: 120 px on a 1080 px short side
is 30 mm on a 21.5" panel (0.25 mm/px) and more on the bigger ones, never under 15 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

REFERENCE_SHORT_SIDE = 1080  # px on the short side of the kiosk screens we design for
TOUCH_MIN_AT_REFERENCE = 120  # px: 15 mm at the reference screen's pixel pitch
LARGE_TEXT_FACTOR = 1.35  # how much bigger every text gets in large-text mode (elderly residents)

SIZES = {
    "portrait": (1080, 1920),
    "landscape": (1920, 1080),
}

# colours as RGBA 0..1; high contrast, calm blue for actions, amber for warnings
BACKGROUND = (0.96, 0.97, 0.98, 1)
HEADER = (0.08, 0.29, 0.55, 1)
TEXT = (0.1, 0.1, 0.12, 1)
TEXT_ON_DARK = (1, 1, 1, 1)
PRIMARY = (0.09, 0.45, 0.82, 1)
SECONDARY = (0.45, 0.5, 0.56, 1)
WARNING = (0.9, 0.55, 0.05, 1)
DANGER = (0.78, 0.16, 0.16, 1)
OK = (0.15, 0.6, 0.3, 1)
OUTLINE = (0.1, 0.85, 0.3, 1)


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


def metrics(width: float, height: float, large_text: bool = False) -> Metrics:
    unit = min(width, height) / REFERENCE_SHORT_SIDE
    text = unit * (LARGE_TEXT_FACTOR if large_text else 1.0)
    touch = max(TOUCH_MIN_AT_REFERENCE * unit, 1.0)
    return Metrics(
        unit=unit,
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
