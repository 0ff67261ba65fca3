"""The Chinese font both windows (the kiosk and the simulator panel) register as Kivy's default.

Why a single-face file: Kivy cannot pick a face inside a ``.ttc`` and face 0 of Debian's Noto CJK
is Japanese; face 0 of WenQuanYi Micro Hei is Chinese, and Droid Sans Fallback has one face.
``scripts/setup.sh`` installs fonts-wqy-microhei. Without any of them Kivy's Roboto draws boxes
for Chinese, which is why the app logs it.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian fonts-wqy-microhei; face 0 is Chinese
FONT_FALLBACKS = (FONT, Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"))


def register_chinese_font() -> Path | None:
    """Make the first Chinese font found Kivy's default for every Label; None when there is none."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    font = next((f for f in FONT_FALLBACKS if f.exists()), None)
    if font is None:
        log.error("no Chinese font (install fonts-wqy-microhei): Chinese text shows as boxes")
        return None
    LabelBase.register(DEFAULT_FONT, str(font))
    return font
