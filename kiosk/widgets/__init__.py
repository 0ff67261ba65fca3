"""Shared touchscreen widgets; importing this registers them for the screens' .kv files."""

from kivy.factory import Factory

from kiosk.widgets.buttons import BigButton
from kiosk.widgets.camera_preview import CameraPreview, FrameFeed
from kiosk.widgets.countdown import BusySpinner, Countdown
from kiosk.widgets.illustrations import Illustration
from kiosk.widgets.numpad import NumberPad
from kiosk.widgets.step_bar import StepBar
from kiosk.widgets.toggles import LanguageToggle, LargeTextToggle

for _cls in (BigButton, CameraPreview, BusySpinner, Countdown, Illustration, NumberPad, LanguageToggle,
             LargeTextToggle, StepBar):
    if _cls.__name__ not in Factory.classes:
        Factory.register(_cls.__name__, cls=_cls)

__all__ = [
    "BigButton",
    "BusySpinner",
    "CameraPreview",
    "Countdown",
    "FrameFeed",
    "Illustration",
    "LanguageToggle",
    "LargeTextToggle",
    "NumberPad",
    "StepBar",
]
