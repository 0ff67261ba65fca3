"""Shared by the UI helper scripts: headless Kivy set-up, stepping an app, widget-tree checks.

Each UI test runs a helper in its own process (Kivy keeps one window per process): pytest starts
``python tests/ui_support/<script>.py …`` and reads the JSON it writes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("KIVY_HOME", os.path.join(tempfile.gettempdir(), "kiosk-ui-kivy-home"))  # not in the repo


def step_through(app: Any, steps: Iterator[float | None], done: Callable[[], None]) -> None:
    """Run a generator on the Kivy clock: each yielded number is the delay before the next step."""
    from kivy.clock import Clock

    def advance(_dt: float) -> None:
        try:
            delay = next(steps)
        except StopIteration:
            done()
            app.stop()
            return
        except Exception:
            import traceback

            traceback.print_exc()
            app.stop()
            os._exit(3)
        Clock.schedule_once(advance, delay or 0)

    Clock.schedule_once(advance, 0.2)


def _rect(widget: Any) -> tuple[float, float, float, float]:
    x, y = widget.to_window(*widget.pos)
    return x, y, widget.width, widget.height


def _name(widget: Any) -> str:
    text = getattr(widget, "text", "")
    return f"{type(widget).__name__}({text[:20]!r})" if text else type(widget).__name__


def check_tree(root: Any, window_size: tuple[float, float]) -> list[str]:
    """Widgets inside the window, labels not clipped, siblings in box/grid layouts not overlapping."""
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.gridlayout import GridLayout
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    width, height = window_size
    problems: list[str] = []

    def visible(w: Any) -> bool:
        return w.opacity > 0 and w.width > 0.5 and w.height > 0.5

    def visit(w: Any, scrolled: bool) -> None:
        if not visible(w):
            return
        x, y, ww, hh = _rect(w)
        if not scrolled and (x < -1 or y < -1 or x + ww > width + 1 or y + hh > height + 1):
            problems.append(f"{_name(w)} outside the window at {x:.0f},{y:.0f} {ww:.0f}x{hh:.0f}")
        if isinstance(w, Label) and w.text:
            tw, th = w.texture_size
            if tw > ww + 2 or th > hh + 2:
                problems.append(f"{_name(w)} text {tw:.0f}x{th:.0f} clipped in {ww:.0f}x{hh:.0f}")
        if isinstance(w, (BoxLayout, GridLayout)):
            kids = [c for c in w.children if visible(c)]
            for c in kids:
                cx, cy, cw, ch = _rect(c)
                if not scrolled and (cx < x - 1 or cy < y - 1 or cx + cw > x + ww + 1 or cy + ch > y + hh + 1):
                    problems.append(f"{_name(c)} sticks out of {_name(w)}")
            for i, a in enumerate(kids):
                ax, ay, aw, ah = _rect(a)
                for b in kids[i + 1 :]:
                    bx, by, bw, bh = _rect(b)
                    ox = min(ax + aw, bx + bw) - max(ax, bx)
                    oy = min(ay + ah, by + bh) - max(ay, by)
                    if ox > 1 and oy > 1:
                        problems.append(f"{_name(a)} overlaps {_name(b)} in {_name(w)}")
        for child in w.children:
            visit(child, scrolled or isinstance(w, ScrollView))

    visit(root, False)
    return problems


def screenshot(path: Path) -> Path:
    """Window.screenshot appends a counter to the name: move the file to exactly ``path``."""
    from kivy.core.window import Window

    path.parent.mkdir(parents=True, exist_ok=True)
    made = Window.screenshot(name=str(path.with_suffix("")) + ".png")
    Path(made).replace(path)
    return path


def texts(widget: Any) -> str:
    """Every text shown in a widget tree, joined (what the tests search for words on screen)."""
    return " ".join(str(getattr(w, "text", "")) for w in widget.walk())


def tap(button: Any) -> Iterator[float]:
    """Touch a widget at its centre through Kivy's input path, as a finger would (scrolled into view first)."""
    from kivy.tests.common import UnitTestTouch
    from kivy.uix.scrollview import ScrollView

    parent, depth = button.parent, 0
    while parent is not None and not isinstance(parent, ScrollView) and depth < 30:
        parent, depth = parent.parent, depth + 1  # (the Window is its own parent)
    if isinstance(parent, ScrollView):
        parent.scroll_to(button, padding=10, animate=False)
        yield 0.1
    x, y = button.to_window(button.center_x, button.center_y)
    t = UnitTestTouch(x, y)
    t.touch_down()
    yield 0.05
    t.touch_up()
    yield 0.1


def _luminance(rgb: Any) -> float:
    """WCAG 2 relative luminance of an sRGB colour with channels 0..1."""

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(float(c)) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Any, b: Any) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_contrasts(root: Any, image_path: Path, window_size: tuple[float, float]) -> list[dict[str, Any]]:
    """Every visible text on screen: its colour against the background measured under it.

    The background is the most common colour of the rendered screenshot inside the text's box
    (text covers a small part of its box); the text's colour is the widget's own (the disabled
    colour for a disabled button), blended over that background by its alpha. Texts in a scroll
    view that are scrolled out of sight are left out: they are not on the screen.
    """
    import numpy as np
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView
    from PIL import Image

    image = np.asarray(Image.open(image_path).convert("RGB"))
    ih, iw = image.shape[:2]
    packed = (image[..., 0].astype(np.int64) << 16) | (image[..., 1].astype(np.int64) << 8) | image[..., 2]
    palette = np.unique(packed)  # every colour on screen, sorted: a patch's colours index into it
    sx, sy = iw / window_size[0], ih / window_size[1]
    out: list[dict[str, Any]] = []

    def inside_scroll(w: Any) -> bool:
        parent, box = w.parent, _rect(w)
        while parent is not None and parent is not parent.parent:
            if isinstance(parent, ScrollView):
                px, py, pw, ph = _rect(parent)
                x, y, ww, hh = box
                if x < px - 1 or y < py - 1 or x + ww > px + pw + 1 or y + hh > py + ph + 1:
                    return False
            parent = parent.parent
        return True

    def shown(w: Any) -> bool:
        node = w
        while node is not None and node is not getattr(node, "parent", None):
            if getattr(node, "opacity", 1) <= 0:
                return False
            node = node.parent
        return True

    for w in root.walk():
        if not isinstance(w, Label) or not str(w.text).strip() or w.width < 2 or w.height < 2:
            continue
        if not shown(w) or not inside_scroll(w):
            continue
        x, y, ww, hh = _rect(w)
        x0, x1 = max(0, int(x * sx)), min(iw, int((x + ww) * sx))
        y0, y1 = max(0, int(ih - (y + hh) * sy)), min(ih, int(ih - y * sy))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        patch = packed[y0:y1, x0:x1].ravel()
        mode = int(np.bincount(np.searchsorted(palette, patch)).argmax())
        bg = np.array([(palette[mode] >> 16) & 255, (palette[mode] >> 8) & 255, palette[mode] & 255]) / 255.0
        fg = list(w.disabled_color if getattr(w, "disabled", False) else w.color)
        alpha = fg[3] if len(fg) > 3 else 1.0
        blended = [alpha * fg[i] + (1 - alpha) * bg[i] for i in range(3)]
        out.append({"text": str(w.text)[:24], "widget": type(w).__name__, "ratio": round(contrast(blended, bg), 2),
                    "fg": [round(c, 3) for c in blended], "bg": [round(float(c), 3) for c in bg]})
    return out
