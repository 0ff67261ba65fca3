"""Pictures that show the action, drawn with Kivy canvas instructions in the kiosk's colours.

Why drawn here and not clip-art: each picture shows *this* kiosk's device with the part in use
highlighted (amber ring) and the hand's action drawn on it, in the palette of the screens, at any
size and in both orientations without blurring. Every picture is built from a few shapes in a unit
box (0..1 × 0..1, origin bottom-left) scaled into the widget, so they are easy to change.

Kinds: ``card`` (the ID card laid on the reader), ``face`` (a face in the oval, the camera above),
``finger`` (a finger pressed flat on the sensor), ``page_good`` (the whole page inside the frame
under the document camera), ``page_bad`` (a hand over a page that sticks out), ``door`` (a
compartment door open, papers going in), ``card_left`` (a card still on the reader, to be taken).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Ellipse, Line, Mesh, Rectangle, RoundedRectangle, Triangle
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from kiosk import ui_theme

KINDS = ("card", "face", "finger", "page_good", "page_bad", "door", "card_left")


class Illustration(Widget):
    """One drawn picture; ``kind`` picks it (see the module doc). Keeps a square-ish aspect."""

    kind = StringProperty("card")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, kind=self._draw)
        self._draw()

    # unit box → pixels, centred, aspect 1.25 : 1
    def _box(self) -> tuple[float, float, float, float]:
        w = min(self.width, self.height * 1.25)
        h = w / 1.25
        return self.center_x - w / 2, self.center_y - h / 2, w, h

    def _draw(self, *_: Any) -> None:
        self.canvas.clear()
        if self.width < 4 or self.height < 4:
            return
        x0, y0, w, h = self._box()

        def p(x: float, y: float) -> tuple[float, float]:
            return x0 + x * w, y0 + y * h

        def s(dx: float, dy: float) -> tuple[float, float]:
            return dx * w, dy * h

        draw: Callable[..., None] = getattr(self, f"_draw_{self.kind}", self._draw_card)
        with self.canvas:
            draw(p, s, w)

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _arrow_down(p: Callable, s: Callable, x: float, top: float, bottom: float, w: float) -> None:
        Color(*ui_theme.PRIMARY)
        Line(points=[*p(x, top), *p(x, bottom + 0.05)], width=max(2.0, w * 0.012))
        a, b, c = p(x - 0.04, bottom + 0.07), p(x + 0.04, bottom + 0.07), p(x, bottom)
        Triangle(points=[*a, *b, *c])

    @staticmethod
    def _mark(p: Callable, w: float, x: float, y: float, good: bool) -> None:
        """A drawn tick (good) or cross (bad) in a disc: no font needed."""
        r = w * 0.07
        cx, cy = p(x, y)
        Color(*(ui_theme.OK if good else ui_theme.DANGER))
        Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
        Color(1, 1, 1, 1)
        lw = max(2.0, r * 0.18)
        if good:
            Line(points=[cx - r * 0.5, cy, cx - r * 0.1, cy - r * 0.45, cx + r * 0.55, cy + r * 0.45], width=lw)
        else:
            Line(points=[cx - r * 0.45, cy - r * 0.45, cx + r * 0.45, cy + r * 0.45], width=lw)
            Line(points=[cx - r * 0.45, cy + r * 0.45, cx + r * 0.45, cy - r * 0.45], width=lw)

    @staticmethod
    def _kiosk_panel(p: Callable, s: Callable) -> None:
        Color(*ui_theme.KIOSK_BODY)
        RoundedRectangle(pos=p(0.05, 0.02), size=s(0.9, 0.5), radius=[s(0.04, 0.04)[0]])

    def _reader(self, p: Callable, s: Callable, w: float) -> None:
        Color(*ui_theme.KIOSK_DARK)
        RoundedRectangle(pos=p(0.2, 0.12), size=s(0.6, 0.26), radius=[w * 0.02])
        Color(*ui_theme.HIGHLIGHT)
        Line(rounded_rectangle=(*p(0.17, 0.09), *s(0.66, 0.32), w * 0.03), width=max(2.0, w * 0.012))
        Color(*ui_theme.OUTLINE)
        Line(rounded_rectangle=(*p(0.27, 0.17), *s(0.46, 0.16), w * 0.015), width=max(1.5, w * 0.006))

    @staticmethod
    def _id_card(p: Callable, s: Callable, w: float, x: float, y: float) -> None:
        cw, ch = 0.44, 0.44 * 54 / 85.6 * 1.25
        Color(0.55, 0.72, 0.9, 1)
        RoundedRectangle(pos=p(x, y), size=s(cw, ch), radius=[w * 0.015])
        Color(0.3, 0.45, 0.65, 1)
        Rectangle(pos=p(x + cw * 0.62, y + ch * 0.18), size=s(cw * 0.28, ch * 0.62))
        for i in range(3):
            Rectangle(pos=p(x + cw * 0.08, y + ch * (0.68 - 0.2 * i)), size=s(cw * 0.45, ch * 0.08))

    # -- the pictures ----------------------------------------------------------------------------
    def _draw_card(self, p: Callable, s: Callable, w: float) -> None:
        self._kiosk_panel(p, s)
        self._reader(p, s, w)
        self._id_card(p, s, w, 0.28, 0.58)
        self._arrow_down(p, s, 0.84, 0.9, 0.45, w)

    def _draw_card_left(self, p: Callable, s: Callable, w: float) -> None:
        self._kiosk_panel(p, s)
        self._reader(p, s, w)
        self._id_card(p, s, w, 0.28, 0.14)
        # the arrow goes up: take it
        Color(*ui_theme.DANGER)
        Line(points=[*p(0.5, 0.5), *p(0.5, 0.86)], width=max(2.0, w * 0.014))
        Triangle(points=[*p(0.45, 0.84), *p(0.55, 0.84), *p(0.5, 0.95)])

    def _draw_face(self, p: Callable, s: Callable, w: float) -> None:
        Color(*ui_theme.KIOSK_BODY)
        RoundedRectangle(pos=p(0.2, 0.0), size=s(0.6, 1.0), radius=[w * 0.04])
        # the camera above the screen, highlighted
        cx, cy = p(0.5, 0.92)
        r = w * 0.03
        Color(*ui_theme.KIOSK_DARK)
        Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
        Color(*ui_theme.HIGHLIGHT)
        Line(circle=(cx, cy, r * 1.6), width=max(2.0, w * 0.01))
        # the face inside the oval
        fx, fy = p(0.5, 0.45)
        fw, fh = s(0.22, 0.46)
        Color(*ui_theme.SKIN)
        Ellipse(pos=(fx - fw / 2, fy - fh / 2), size=(fw, fh))
        Color(*ui_theme.SKIN_LINE)
        for ex in (-0.045, 0.045):
            ex_, ey_ = p(0.5 + ex, 0.5)
            Ellipse(pos=(ex_ - w * 0.012, ey_ - w * 0.012), size=(w * 0.024, w * 0.024))
        mx, my = p(0.5, 0.36)
        Line(ellipse=(mx - w * 0.04, my - w * 0.02, w * 0.08, w * 0.04, 110, 250), width=max(1.5, w * 0.006))
        Color(*ui_theme.OUTLINE)
        ow, oh = s(0.34, 0.66)
        Line(ellipse=(fx - ow / 2, fy - oh / 2, ow, oh), width=max(2.0, w * 0.012))

    def _draw_finger(self, p: Callable, s: Callable, w: float) -> None:
        self._kiosk_panel(p, s)
        # the sensor window, highlighted
        Color(*ui_theme.KIOSK_DARK)
        RoundedRectangle(pos=p(0.36, 0.12), size=s(0.28, 0.28), radius=[w * 0.02])
        Color(0.35, 0.55, 0.75, 1)
        RoundedRectangle(pos=p(0.39, 0.15), size=s(0.22, 0.22), radius=[w * 0.015])
        Color(*ui_theme.HIGHLIGHT)
        Line(rounded_rectangle=(*p(0.33, 0.09), *s(0.34, 0.34), w * 0.025), width=max(2.0, w * 0.012))
        # a finger lying flat over it, from the right: nail up, the pad on the glass
        Color(*ui_theme.SKIN)
        RoundedRectangle(pos=p(0.42, 0.2), size=s(0.56, 0.13), radius=[w * 0.06])
        Color(*ui_theme.SKIN_LINE)
        Line(rounded_rectangle=(*p(0.42, 0.2), *s(0.56, 0.13), w * 0.06), width=max(1.2, w * 0.004))
        Color(0.98, 0.88, 0.82, 1)
        RoundedRectangle(pos=p(0.44, 0.25), size=s(0.08, 0.065), radius=[w * 0.015])
        # "press": two short arrows onto the finger
        for x in (0.5, 0.62):
            self._arrow_down(p, s, x, 0.62, 0.36, w)

    def _camera_and_frame(self, p: Callable, s: Callable, w: float) -> None:
        Color(*ui_theme.KIOSK_BODY)
        Rectangle(pos=p(0.05, 0.02), size=s(0.9, 0.06))
        Rectangle(pos=p(0.08, 0.08), size=s(0.05, 0.82))
        Rectangle(pos=p(0.08, 0.86), size=s(0.42, 0.05))
        Color(*ui_theme.KIOSK_DARK)
        RoundedRectangle(pos=p(0.42, 0.8), size=s(0.14, 0.1), radius=[w * 0.01])
        Color(*ui_theme.HIGHLIGHT)
        Line(rounded_rectangle=(*p(0.4, 0.78), *s(0.18, 0.14), w * 0.015), width=max(2.0, w * 0.01))
        # the capture area, dashed
        Color(*ui_theme.PRIMARY)
        Line(rectangle=(*p(0.2, 0.1), *s(0.64, 0.62)), width=max(1.5, w * 0.006), dash_length=6, dash_offset=4)

    @staticmethod
    def _page(p: Callable, s: Callable, w: float, x: float, y: float, pw: float, ph: float, tilt: float = 0.0) -> None:
        cx, cy = p(x + pw / 2, y + ph / 2)
        hw, hh = s(pw / 2, ph / 2)
        c, sn = math.cos(tilt), math.sin(tilt)
        corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
        pts = [(cx + dx * c - dy * sn, cy + dx * sn + dy * c) for dx, dy in corners]
        Color(*ui_theme.PAPER)
        Mesh(vertices=[v for pt in pts for v in (*pt, 0, 0)], indices=[0, 1, 2, 3], mode="triangle_fan")
        Color(*ui_theme.MUTED)
        Line(points=[v for pt in pts for v in pt], close=True, width=max(1.2, w * 0.004))
        for i in range(5):
            fy = 0.7 - i * 0.14
            a = (-hw * 0.7, hh * (fy * 2 - 1) * 0.9)
            b = (hw * (0.7 - 0.2 * (i % 2)), a[1])
            Line(points=[cx + a[0] * c - a[1] * sn, cy + a[0] * sn + a[1] * c,
                         cx + b[0] * c - b[1] * sn, cy + b[0] * sn + b[1] * c], width=max(1.0, w * 0.004))

    def _draw_page_good(self, p: Callable, s: Callable, w: float) -> None:
        self._camera_and_frame(p, s, w)
        self._page(p, s, w, 0.3, 0.15, 0.44, 0.52)
        self._mark(p, w, 0.88, 0.86, True)

    def _draw_page_bad(self, p: Callable, s: Callable, w: float) -> None:
        self._camera_and_frame(p, s, w)
        self._page(p, s, w, 0.48, 0.14, 0.44, 0.52, tilt=0.25)  # half out of the frame
        # a hand over the page
        Color(*ui_theme.SKIN)
        Ellipse(pos=p(0.5, 0.3), size=s(0.2, 0.2))
        for i in range(4):
            RoundedRectangle(pos=p(0.5 + i * 0.045, 0.45), size=s(0.04, 0.15), radius=[w * 0.015])
        Color(*ui_theme.SKIN_LINE)
        Line(ellipse=(*p(0.5, 0.3), *s(0.2, 0.2)), width=max(1.2, w * 0.004))
        self._mark(p, w, 0.88, 0.86, False)

    def _draw_door(self, p: Callable, s: Callable, w: float) -> None:
        Color(*ui_theme.KIOSK_BODY)
        RoundedRectangle(pos=p(0.1, 0.02), size=s(0.8, 0.96), radius=[w * 0.02])
        Color(*ui_theme.MUTED)
        for row in range(4):
            for col in range(3):
                Line(rectangle=(*p(0.14 + col * 0.25, 0.06 + row * 0.23), *s(0.22, 0.2)), width=max(1.0, w * 0.003))
        # the open compartment: dark inside, highlighted, door swung out to the right
        Color(*ui_theme.KIOSK_DARK)
        Rectangle(pos=p(0.39, 0.52), size=s(0.22, 0.2))
        Color(*ui_theme.HIGHLIGHT)
        Line(rectangle=(*p(0.38, 0.51), *s(0.24, 0.22)), width=max(2.0, w * 0.012))
        Color(0.62, 0.66, 0.72, 1)
        Mesh(vertices=[*p(0.61, 0.52), 0, 0, *p(0.76, 0.47), 0, 0, *p(0.76, 0.77), 0, 0, *p(0.61, 0.72), 0, 0],
             indices=[0, 1, 2, 3], mode="triangle_fan")
        # papers going in
        self._page(p, s, w, 0.43, 0.8, 0.14, 0.14)
        self._arrow_down(p, s, 0.5, 0.99, 0.62, w)
