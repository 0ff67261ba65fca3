"""What the kiosk says: real espeak-ng rendered to WAV files and measured, never the pickup code,
codes digit by digit, the volume from the configuration with quiet hours at night."""

from __future__ import annotations

import datetime as dt
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from flows.view import Screen, View
from kiosk.app import demo_views
from kiosk.i18n import Translator
from kiosk.speech import Speaker, in_quiet_hours, parse_quiet_hours
from kiosk.spoken import ZH_DIGITS, digit_by_digit, spoken_text

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed")


def rms(path: Path) -> float:
    with wave.open(str(path)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def receipt_view() -> View:
    return demo_views()[Screen.RECEIPT]


def secret_forms(code: str) -> list[str]:
    """Every way the pickup code could reach the engine: as typed, spaced, or in Chinese digits."""
    zh = "".join(ZH_DIGITS[int(d)] for d in code)
    return [code, " ".join(code), zh, " ".join(zh), digit_by_digit(code, "zh"), digit_by_digit(code, "en")]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_receipt_is_spoken_without_its_pickup_code(language: str) -> None:
    tr = Translator(language)
    view = receipt_view()
    code = view.params["pickup_code"]
    screen_text = tr(view.message, **view.params)
    said = spoken_text(tr, view.message, view.params, language)
    assert said and all(form not in said for form in secret_forms(code)), said
    assert tr("speech.on_screen") in said  # it says where the code is instead
    # even a translation that puts the code into its text does not leak it
    tr.tables[language]["speech.receipt.done"] = "取件码 {pickup_code} / code {pickup_code}"
    leaked = spoken_text(tr, view.message, {**view.params}, language)
    assert all(form not in leaked for form in secret_forms(code)), leaked
    assert screen_text  # the screen keeps its own text


def test_codes_are_read_digit_by_digit_and_counts_stay_numbers() -> None:
    tr = Translator("zh")
    said = spoken_text(tr, "door.put_papers_in", {"compartment": "A07"}, "zh")
    assert "A 零 七" in said and "07" not in said
    assert digit_by_digit("call 0571-88001234", "en") == "call 0 5 7 1 - 8 8 0 0 1 2 3 4"
    receipt = spoken_text(tr, "receipt.done", {"pickup_code": "284615", "days": 5}, "zh")
    assert "五" in receipt or "5" not in receipt  # 5 days: digit-spelled, never a code
    en = spoken_text(Translator("en"), "door.put_papers_in", {"compartment": "B12"}, "en")
    assert "B 1 2" in en


def test_quiet_hours_cap_the_volume_except_for_loud_prompts() -> None:
    night = Speaker(espeak="/bin/true", volume=90, quiet_hours="22:00-07:00", quiet_volume=30,
                    now=lambda: dt.datetime(2026, 12, 6, 23, 10))
    day = Speaker(espeak="/bin/true", volume=90, quiet_hours="22:00-07:00", quiet_volume=30,
                  now=lambda: dt.datetime(2026, 12, 6, 14, 0))
    assert night.volume_now() == 30 and night.volume_now(loud=True) == 90
    assert day.volume_now() == 90
    cmd = night.command("请放身份证", "zh")
    assert cmd[cmd.index("-a") + 1] == "60"  # espeak-ng's amplitude 0–200 for volume 30
    assert in_quiet_hours(parse_quiet_hours("22:00-07:00"), dt.time(6, 59))
    assert not in_quiet_hours(parse_quiet_hours("22:00-07:00"), dt.time(7, 0))
    assert parse_quiet_hours("") is None
    with pytest.raises(ValueError):
        parse_quiet_hours("late")
    day.set_volume(250)
    assert day.volume == 100


@needs_espeak
def test_espeak_renders_each_prompt_audibly_and_louder_at_a_higher_volume(tmp_path: Path) -> None:
    tr = Translator("zh")
    views = demo_views()
    loud = Speaker(enabled=True, volume=100)
    soft = Speaker(enabled=True, volume=20)
    for screen in (Screen.CARD_PROMPT, Screen.FINGERPRINT, Screen.DOOR_OPEN, Screen.RECEIPT):
        view = views[screen]
        text = spoken_text(tr, view.message, view.params, "zh")
        path = loud.render(text, "zh", tmp_path / f"{screen.value}.wav")
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert seconds > 0.5, screen
        assert rms(path) > 300, f"{screen} is silent"
    text = spoken_text(tr, "card.place", {}, "zh")
    a = rms(loud.render(text, "zh", tmp_path / "loud.wav"))
    b = rms(soft.render(text, "zh", tmp_path / "soft.wav"))
    assert a > b * 2.5  # volume 100 against 20
    code = views[Screen.RECEIPT].params["pickup_code"]
    given = " | ".join(loud.engine_texts)
    assert all(form not in given for form in secret_forms(code)), given


def test_the_configuration_checks_volume_quiet_hours_panel_and_help_phone(tmp_path: Path) -> None:
    from devices.errors import ConfigError
    from kiosk.config import load_config

    root = Path(__file__).resolve().parents[1]
    text = (root / "config" / "kiosk.sim.toml").read_text(encoding="utf-8")
    cfg = load_config(root / "config" / "kiosk.sim.toml")
    assert cfg.help_phone == "0571-8800 1234" and cfg.ui.volume == 80 and cfg.ui.quiet_hours == "22:00-07:00"
    bad = (text.replace("volume = 80", "volume = 180").replace('quiet_hours = "22:00-07:00"', 'quiet_hours = "late"')
           .replace("screen_diagonal_in = 21.5", "screen_diagonal_in = 2")
           .replace('help_phone = "0571-8800 1234"', 'help_phone = "call Mr Wang"'))
    path = tmp_path / "config" / "kiosk.toml"
    path.parent.mkdir()
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    for key in ("ui.volume", "ui.quiet_hours", "ui.screen_diagonal_in", "kiosk.help_phone"):
        assert key in message, key
