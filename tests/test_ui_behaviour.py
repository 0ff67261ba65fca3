"""The app's own behaviour: idle timeout (warning, continue, then timeout) and out-of-service switching.

Each case runs the real app headless in its own process (tests/ui_support/behaviour.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
def test_out_of_service_follows_device_status(tmp_path: Path) -> None:
    seen = _run("oos", tmp_path)
    assert seen["before"] == "identity"
    assert seen["while_down"] == "out_of_service"
    assert "身份证阅读器" in seen["down_text"] and "no answer on ttyUSB0" in seen["down_text"]
    assert "离线" in seen["down_text"]
    assert seen["flow_moved_while_down"] == "out_of_service"
    assert seen["staff_while_down"] == "maintenance"
    assert seen["busy"] == "identity"
    assert seen["after_recovery"] == "identity"
    assert seen["locker_down"] == "out_of_service"
    assert "智能柜" in seen["locker_text"] and "硬件故障" in seen["locker_text"]
    assert seen["locker_back"] == "identity"
