"""Every screen rendered headless (SDL offscreen, real GL) in Chinese and English, normal and elder
mode, portrait and landscape; screenshots go to artifacts/ui/ for people to look at. Measured on
the rendered screens: no text clipped or overflowing (elder mode is the largest text), every
text's contrast against its background (WCAG AA, ≥ 4.5:1), touch targets in millimetres on the
configured panel (≥ 15 mm; ≥ 20 mm in elder mode).

One subprocess per orientation × language renders all 18 screens twice (Kivy has one window per
process). The windows are half the kiosk's 1080 × 1920 / 1920 × 1080: every size in the UI is
derived from the short side, so the layout is the same, and llvmpipe fills a quarter of the
pixels, which keeps the whole set well inside the CI budget on 2 slow cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flows.view import Screen
from kiosk.ui_theme import ELDER_TOUCH_MIN_MM, TOUCH_MIN_MM

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "ui_support" / "render_screens.py"
sys.path.insert(0, str(ROOT / "tests" / "ui_support"))
EXTRA = 2  # the card-left reminder and the call-for-help answer
OUT = ROOT / "artifacts" / "ui"
SCALE = 0.5
COMBOS = [(o, lang) for o in ("portrait", "landscape") for lang in ("zh", "en")]


def _render(combo: tuple[str, str], tmp: Path) -> dict:
    orientation, lang = combo
    result = tmp / f"{orientation}-{lang}.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), orientation, lang, str(SCALE), str(OUT), str(result)],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert proc.returncode == 0 and result.exists(), proc.stderr[-3000:]
    return json.loads(result.read_text())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    tmp = tmp_path_factory.mktemp("ui")
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: _render(c, tmp), COMBOS))
    return dict(zip(COMBOS, results, strict=True))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(c))
def test_every_screen_renders_without_clipping_or_overlap(reports: dict, combo: tuple[str, str]) -> None:
    report = reports[combo]
    screens = report["screens"]
    assert len(screens) == 2 * (len(Screen) + EXTRA)
    bad = {name: r["problems"] for name, r in screens.items() if r["problems"]}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)
    wrong = {name: r["screen"] for name, r in screens.items() if r["screen"] != r["expected"]}
    assert not wrong


@pytest.mark.timeout(600)
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(c))
def test_touch_targets_are_at_least_15_mm_and_20_in_elder_mode(reports: dict, combo: tuple[str, str]) -> None:
    report = reports[combo]
    short_side = min(report["size"])
    touch_min = 120 * short_side / 1080  # 120 px at a 1080 px short side
    for name, r in report["screens"].items():
        if r["min_button_height"] is not None:
            assert r["min_button_height"] >= touch_min - 0.5, name
            assert r["min_button_width"] >= touch_min - 0.5, name
            mm = min(r["min_button_height"], r["min_button_width"]) * r["mm_per_px"]
            assert mm >= (ELDER_TOUCH_MIN_MM if r["elder"] else TOUCH_MIN_MM) - 0.05, (name, mm)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(c))
def test_every_text_has_aa_contrast_against_its_background(reports: dict, combo: tuple[str, str]) -> None:
    low = {
        name: [c for c in r["contrast"] if c["ratio"] < 4.5]
        for name, r in reports[combo]["screens"].items()
    }
    low = {k: v for k, v in low.items() if v}
    assert not low, json.dumps(low, ensure_ascii=False, indent=1)
    # the measurement sees the texts that matter: buttons, the step bar's numbers (portrait; landscape
    # names the step in the header), the header
    measured = {c["widget"] for r in reports[combo]["screens"].values() for c in r["contrast"]}
    assert {"BigButton", "Para", "Label"} <= measured
    assert combo[0] == "landscape" or "StepDot" in measured
    assert sum(len(r["contrast"]) for r in reports[combo]["screens"].values()) > 300


def test_the_contrast_measure_fails_the_old_colours() -> None:
    """The colours the screens had before this check (grey buttons, green and amber texts) fail it."""
    from uikit import contrast

    white, background = (1, 1, 1), (0.96, 0.97, 0.98)
    assert contrast((0.45, 0.5, 0.56), white) < 4.5  # the old secondary button
    assert contrast((0.15, 0.6, 0.3), background) < 4.5  # the old green receipt line
    assert contrast((0.9, 0.55, 0.05), background) < 4.5  # the old amber countdown
    assert contrast((0.1, 0.1, 0.12), background) > 15


@pytest.mark.timeout(600)
def test_call_for_help_answers_with_the_phone_number(reports: dict) -> None:
    for combo in COMBOS:
        for mode in ("normal", "large"):
            r = reports[combo]["screens"]["-".join((*combo, mode, "help"))]
            assert "0571-8800 1234" in r["help_text"].replace("\u00a0", " ")
            assert r["help_events"] >= 1  # the press reached the host
    zh = reports[("portrait", "zh")]["screens"]["portrait-zh-normal-help"]["help_text"]
    assert "已通知值班工作人员" in zh


@pytest.mark.timeout(600)
@pytest.mark.parametrize("combo", COMBOS, ids=lambda c: "-".join(c))
def test_screenshots_have_content(reports: dict, combo: tuple[str, str]) -> None:
    for name in reports[combo]["screens"]:
        pixels = np.asarray(Image.open(OUT / f"{name}.png").convert("L"), dtype=np.float32)
        assert pixels.shape[0] > 100
        assert pixels.std() > 15, f"{name} looks blank"
        # text and buttons: a good share of the screen differs from the background
        assert (np.abs(pixels - np.median(pixels)) > 40).mean() > 0.03, f"{name} is nearly empty"


def test_large_text_is_larger(reports: dict) -> None:
    """Large-text mode really changes the screens (the elderly mode is not a no-op)."""
    a = np.asarray(Image.open(OUT / "portrait-zh-normal-message.png").convert("L"), dtype=np.int16)
    b = np.asarray(Image.open(OUT / "portrait-zh-large-message.png").convert("L"), dtype=np.int16)
    rows = slice(a.shape[0] // 5, a.shape[0] * 4 // 5)  # the body: between the header and the button
    dark = 80  # the message text, not the background
    assert (b[rows] < dark).sum() > (a[rows] < dark).sum() * 1.3
