"""The app's own behaviour: idle timeout (warning, continue, then timeout) and out-of-service switching.

Each case runs the real app headless in its own process (tests/ui_support/behaviour.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "ui_support" / "behaviour.py"


def _run(mode: str, tmp_path: Path) -> dict:
    result = tmp_path / f"{mode}.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), mode, str(result)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 0 and result.exists(), proc.stderr[-3000:]
    return json.loads(result.read_text())


@pytest.mark.timeout(90)
def test_idle_timeout_warns_then_sends_timeout(tmp_path: Path) -> None:
    seen = _run("timeout", tmp_path)
    assert seen["warning_at_start"] is False
    assert seen["warned"] is True
    assert "还在吗" in seen["warning_text"]
    assert "继续办理" in seen["warning_text"]
    assert "timeout" not in seen["events_at_warning"]
    # "continue" closes the warning and does not end the session
    assert seen["warning_after_continue"] is False
    assert "timeout" not in seen["events_after_continue"]
    # left alone again: the flow gets exactly one timeout, naming where the resident was
    assert seen["events"].count("timeout") == 1
    assert seen["timeout_data"] == {"screen": "message", "step": "refused"}
    assert seen["screen_after_timeout"] == "idle"
    # the idle screen never times out
    assert seen["events_on_idle"].count("timeout") == 1
    assert seen["warning_on_idle"] is False


@pytest.mark.timeout(90)
def test_out_of_service_follows_device_status_between_residents(tmp_path: Path) -> None:
    seen = _run("oos", tmp_path)
    assert seen["before"] == "idle"
    assert seen["while_down"] == "out_of_service"
    assert "身份证阅读器" in seen["down_text"] and "no answer on ttyUSB0" in seen["down_text"]
    assert "离线" in seen["down_text"]
    assert seen["offered_while_card_down"] == ["pickup"]  # no deposit without the card, results still
    assert seen["staff_while_down"] == "maintenance"
    assert seen["busy"] == "idle"
    assert seen["after_recovery"] == "idle"
    assert seen["resident_screen_while_down"] == "receipt"  # the pickup code stays on screen
    assert seen["locker_down"] == "out_of_service"
    assert "智能柜" in seen["locker_text"] and "硬件故障" in seen["locker_text"]
    assert seen["offered_while_locker_down"] == []
    assert seen["locker_back"] == "idle"


@pytest.mark.timeout(90)
def test_the_next_resident_starts_in_chinese_at_normal_size_and_an_open_door_is_not_nagged(tmp_path: Path) -> None:
    seen = _run("session", tmp_path)
    assert seen["during"] == ["en", True]
    assert "Printing your receipt" in seen["receipt_text"] or "receipt is printed" in seen["receipt_text"]
    assert "Please bring later" in seen["receipt_text"] and "1-inch" in seen["receipt_text"]
    assert seen["next_resident"] == ["zh", False]
    assert "开始办理" in seen["idle_text"]  # the idle screen in Chinese again
    assert seen["door_warning"] is False and "timeout" not in seen["door_events"]


@pytest.mark.timeout(90)
def test_staff_pickups_screen_offers_override_and_maintenance_buttons(tmp_path: Path) -> None:
    seen = _run("staff", tmp_path)
    # the 12-digit PIN was typed on the pad (it used to stop at 6 digits), masked, and it logged in
    assert seen["pin_display"] == "●" * 12
    # both actions of the real staff flow are buttons in the pickups screen's action bar
    assert {"override", "maintenance"} <= set(seen["pickups_actions"])
    assert "强制开柜" in seen["pickups_bar"] and "维护模式" in seen["pickups_bar"]
    # a touch on "强制开柜" sends the bare override: the flow shows the compartment controls
    assert seen["override_event"] == [{}]
    assert any(t.startswith("S01") for t in seen["tiles"]) and any(t.startswith("M01") for t in seen["tiles"])
    # a touch on "维护模式" shows every device with its status; the card reader is down
    assert "身份证阅读器" in seen["maintenance_text"] and "离线" in seen["maintenance_text"]
    assert "no answer on ttyUSB0" in seen["maintenance_text"] and "智能柜" in seen["maintenance_text"]
    assert "检测设备" in seen["maintenance_bar"] and "返回" in seen["maintenance_bar"]
    assert "still no answer" in seen["tested_text"] and "1 台设备" in seen["tested_text"]
    assert seen["events"] == ["pin", "override", "back", "maintenance", "test_devices", "back"]
    assert seen["audit"] == ["kiosk.maintenance_entered", "kiosk.device_test", "kiosk.maintenance_left"]


ESPEAK_STAND_IN = """#!{python}
import json, subprocess, sys
from pathlib import Path
out = Path({out!r})
n = len(list(out.glob("*.wav")))
args = sys.argv[1:]
(out / "args.jsonl").open("a").write(json.dumps(args, ensure_ascii=False) + "\\n")
subprocess.run(["espeak-ng", *args[:-1], "-w", str(out / f"{{n:03d}}.wav"), args[-1]], check=True)
"""


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
@pytest.mark.timeout(120)
def test_prompts_are_spoken_on_each_step_and_again_on_request_never_the_pickup_code(tmp_path: Path) -> None:
    out = tmp_path / "voice"
    out.mkdir()
    stand_in = tmp_path / "espeak-ng"
    stand_in.write_text(ESPEAK_STAND_IN.format(python=sys.executable, out=str(out)))
    stand_in.chmod(0o755)
    result = tmp_path / "voice.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "voice", str(result), str(stand_in)], capture_output=True,
                          text=True, timeout=100, cwd=ROOT)
    assert proc.returncode == 0 and result.exists(), proc.stderr[-3000:]
    seen = json.loads(result.read_text())
    assert seen["said_on_show"] == [True, True, True]  # card, finger, receipt: each said as it appears
    assert seen["replayed"] and "取件码请看屏幕" in seen["replayed"][0]  # 再听一遍 says the receipt again
    code = seen["receipt_pickup_code"]
    calls = [json.loads(line) for line in (out / "args.jsonl").read_text().splitlines()]
    texts = [c[-1] for c in calls]
    zh = "".join("零一二三四五六七八九"[int(d)] for d in code)
    for text in texts:
        assert code not in text and " ".join(code) not in text and zh not in " ".join(text.split()), text
    # quiet hours all day in this run: prompts at 20 % (amplitude 40), the card-left reminder at full 90 %
    amplitude = {c[-1]: c[c.index("-a") + 1] for c in calls}
    card_left = next(t for t in texts if "读卡区" in t)
    assert amplitude[card_left] == "180" and amplitude[texts[0]] == "40"
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == len(calls) >= 5
    for wav in wavs:  # real speech, not silence
        with wave.open(str(wav)) as w:
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
        assert samples.size > 8000 and np.sqrt(np.mean(samples**2)) > 100, wav.name
