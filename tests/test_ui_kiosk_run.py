"""The whole kiosk as a person meets it: `kiosk sim all` in one process, the real app in another,
a deposit done by touching the screen's buttons while the simulators play the resident's hands.

Asserts what a user would notice — the screens in order, the receipt with its codes, the case in
the store and the compartment holding it, the staff PIN pad and list, the out-of-service screen
naming the unplugged fingerprint sensor and the way back — and saves screenshots of the main
screens to artifacts/screenshots/. With KIOSK_UPDATE_SCREENSHOTS=1 they go to docs/screenshots/
(the README's pictures) instead, so an ordinary test run leaves the work tree clean.

The staff badge goes through the real PC/SC stack: the config keeps the staff and door readers
(``write_config(pcsc=True)``), so `kiosk sim all` runs their virtual cards and the app watches
vpcd's readers through pcscd. The pcscd is the one scripts/test.sh hands over through
KIOSK_TEST_PCSCD_PIDFILE, or one started here as the pcsc tests do (tests/pcsc_support.py). The
PIN pad must appear because of the tap on the staff reader simulator: the run has no other way to
reach it. Without pcscd installed the staff part (and the resident's result pickup that follows
it) is left out and its test skipped. The simulators and the app run only while the module's
fixture sets up, so no other test holds vpcd's ports meanwhile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from pcsc_support import PCSCD, PCSCD_STACK, SKIP_REASON
from PIL import Image
from runtime_support import ROOT, simulators, write_config

from kiosk.runtime import DEMO_BADGE

SCRIPT = ROOT / "tests" / "ui_support" / "kiosk_run.py"
SHOTS = ROOT / ("docs" if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") == "1" else "artifacts") / "screenshots"
STAFF_SHOTS = ("10-staff-pin", "11-staff-pickups")
PCSC = PCSCD is not None  # the staff part needs pcscd with vpcd; without it, only that part is skipped


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("kiosk-run")
    if PCSC:
        PCSCD_STACK.ensure()  # test.sh's pcscd, or one started (and stopped at exit) here
    config = write_config(tmp, pcsc=PCSC)  # pcsc: the staff and door readers on vpcd, simulated and watched
    result = tmp / "seen.json"
    with simulators(config, tmp / "sim.log") as control:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), str(config), control, str(SHOTS), str(result)],
            capture_output=True,
            text=True,
            timeout=500,
            cwd=ROOT,
            env=env,
        )
    assert proc.returncode == 0 and result.exists(), proc.stderr[-4000:]
    seen = json.loads(result.read_text())
    assert "error" not in seen, seen["error"] + "\n" + proc.stderr[-3000:]
    assert seen["staff"] is PCSC
    return seen


@pytest.mark.timeout(600)
def test_a_whole_deposit_by_touch(run: dict) -> None:
    screens = [s.split("/")[0] for s in run["screens"]]
    order = ["idle", "card_prompt", "identity", "face", "fingerprint", "guide", "documents", "compartment_size",
             "door_open", "receipt", "idle"]
    it = iter(screens)
    assert all(any(s == want for s in it) for want in order), screens  # in this order (others between)
    assert "张" in run["face_text"] and "*" in run["face_text"]  # masked name of the card holder
    assert "请确认是否为本人" in run["identity_text"] and "1101************39" in run["identity_text"]  # masked
    assert "110105199003071239" not in run["identity_text"]
    assert "社会保障卡补领" in run["guide_text"] and "身份证" in run["guide_text"]  # its papers listed
    outline = run["outline_before_capture"]  # the paper on the document camera, outlined live
    assert len(outline) == 4 and all(-0.05 <= v <= 1.05 for corner in outline for v in corner)  # a corner may
    # sit just past the frame's edge: the simulator's page touches it
    assert run["thumbnails_shown"] == 1  # the page just taken, as a small picture
    receipt = run["receipt"]
    assert len(receipt["case_code"]) == 8 and len(receipt["pickup_code"]) == 6
    assert receipt["case_code"] in run["receipt_text"] and receipt["pickup_code"] in run["receipt_text"]
    assert receipt["deferred"]  # the photo follows later
    assert run["case"] == {"state": "committed", "compartment": receipt["compartment"]}
    assert receipt["compartment"] in run["holding"]
    assert receipt["compartment"] in run["door_text"]
    assert not run["sessions_open"]


@pytest.mark.pcsc
@pytest.mark.skipif(not PCSC, reason=SKIP_REASON)
@pytest.mark.timeout(600)
def test_staff_collect_and_return_the_result_then_the_resident_fetches_it_by_touch(run: dict) -> None:
    # the PIN pad came from the badge on the staff reader simulator, read through pcscd and vpcd
    assert run["badge_by"] == "staff_reader simulator"
    card = run["badge_card"]
    assert card["present"] and card["uid"] == DEMO_BADGE and card["kind"] == "badge"
    assert card["apdus"] >= 1  # pcscd asked the card for its UID
    assert not run["badge_removed"]["present"]  # taken off the reader again at the end
    screens = run["screens"]
    assert screens.index("staff_pin/pin") < screens.index("staff_pickups/pickups")
    assert run["receipt"]["case_code"] in run["pickups_text"]
    assert run["case_after_collect"] == "collected"
    later = screens[screens.index("staff_pickups/pickups"):]
    assert [
        s for s in later if s in ("result_pickup/choose", "code_entry/code", "door_open/door")
    ] == ["result_pickup/choose", "code_entry/code", "door_open/door"]
    assert run["case_after_pickup"] == "result_collected"


@pytest.mark.timeout(600)
def test_an_unplugged_fingerprint_sensor_takes_the_kiosk_out_of_service_until_plugged(run: dict) -> None:
    assert "指纹仪" in run["oos_text"]  # names the unplugged device
    assert run["screens"][-2:] == ["out_of_service/device_down", "idle/idle"]
    assert run["screens_after_plug"] == "idle"


@pytest.mark.timeout(600)
def test_screenshots_of_the_main_screens_in_chinese_elder_mode_and_english(run: dict) -> None:
    resident = [s for s in run["shots"] if not s.endswith(("-elder", "-en")) and s not in STAFF_SHOTS
                and s != "05b-help"]
    assert len(resident) == (15 if PCSC else 12)  # 12-14: the result pickup after the staff part
    for name in resident:  # every resident screen three times
        assert f"{name}-elder" in run["shots"] and f"{name}-en" in run["shots"], name
    assert set(STAFF_SHOTS) <= set(run["shots"]) or not PCSC
    for name in run["shots"]:
        image = np.asarray(Image.open(SHOTS / f"{name}.png").convert("L"))
        assert image.shape[0] > image.shape[1] and image.std() > 10, name  # portrait, not blank
    # elder mode really differs from the normal screen, and English from Chinese
    for name in resident:
        normal = np.asarray(Image.open(SHOTS / f"{name}.png").convert("L"), dtype=np.int16)
        for variant in ("elder", "en"):
            other = np.asarray(Image.open(SHOTS / f"{name}-{variant}.png").convert("L"), dtype=np.int16)
            assert (np.abs(normal - other) > 40).mean() > 0.01, f"{name}-{variant} looks like {name}"


def test_call_for_help_mid_visit_is_audited_with_the_step_and_says_help_is_coming(run: dict) -> None:
    assert "已通知值班工作人员" in run["help_text"] and "0571-8800 1234" in run["help_text"].replace("\u00a0", " ")
    detail = run["help_audit"][0]
    assert detail["flow"] == "deposit" and detail["step"] == "service" and detail["visit_seconds"] > 0
    assert "张" not in json.dumps(detail, ensure_ascii=False)


def test_a_card_left_after_the_visit_is_reminded_until_taken(run: dict) -> None:
    assert "请取走您的身份证" in run["card_left_text"]
    screens = run["screens"]
    i = screens.index("message/card_left")
    before = [s for s in screens[:i] if s != "idle/idle"]  # (the idle screen may flash while the reader is asked)
    assert before[-1].startswith("receipt/") and screens[i + 1] == "idle/idle"  # gone once taken
