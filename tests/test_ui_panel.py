"""The simulator panel: buttons from the simulators' own action lists, errors shown, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devices.sim_control import SimControlServer
from kiosk.panel.control import PanelControl

ROOT = Path(__file__).resolve().parents[1]


class FakeSim:
    """A controllable like the real simulators: ctl_ actions with one-line docs."""

    def __init__(self, name: str, actions: dict[str, str]) -> None:
        self.name = name
        self._actions = actions
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def actions(self) -> dict[str, str]:
        return dict(self._actions)

    def control(self, action: str, **args: Any) -> Any:
        if action not in self._actions:
            raise KeyError(f"unknown action {action!r}")
        if action == "cards":
            return {"zhang_san": "张三 …", "li_si": "李四 …"}
        if action == "jam" and args.get("lock", 0) > 48:
            raise ValueError(f"no lock {args['lock']}")
        self.calls.append((action, args))
        return {"did": action, **args}


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    sims = {
        "idcard": FakeSim(
            "idcard", {"insert": "Place a card", "remove": "Lift", "cards": "List", "unplug": "", "plug": ""}
        ),
        "face_camera": FakeSim("face_camera", {"show": "Show a scene", "scenes": "", "unplug": "", "plug": ""}),
        "locker": FakeSim("locker", {"open": "", "close": "", "jam": "", "state": "", "unplug": ""}),
        "staff_reader": FakeSim("staff_reader", {"tap": "", "remove": ""}),
    }
    srv = SimControlServer(str(tmp_path / "control.sock"), sims).start()
    yield srv, sims
    srv.close()


def test_buttons_come_from_the_simulators_actions(server) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    control = PanelControl(srv.path)
    ok, devices = control.devices()
    assert ok and set(devices) == set(sims)
    idcard = [b.label for b in control.buttons("idcard", devices["idcard"])]
    assert "place card: zhang_san" in idcard and "place card: li_si" in idcard
    assert {"remove", "unplug", "plug"} <= set(idcard)
    face = {b.args.get("scene") for b in control.buttons("face_camera", devices["face_camera"])}
    assert {"card_holder", "other_person", "printed_photo", "nobody"} <= face
    badge = control.buttons("staff_reader", devices["staff_reader"])
    assert any(b.action == "tap" and b.args["kind"] == "badge" for b in badge)
    # actions that need a board and lock are not offered bare
    assert "open" not in [b.action for b in control.buttons("locker", devices["locker"])]


def test_pressing_a_button_drives_the_simulator(server) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    control = PanelControl(srv.path)
    ok, devices = control.devices()
    place = next(b for b in control.buttons("idcard", devices["idcard"]) if b.args.get("card") == "li_si")
    line = control.press(place)
    assert sims["idcard"].calls == [("insert", {"card": "li_si"})]
    assert line.startswith("idcard insert:")
    jam = next(b for b in control.lock_buttons("locker", 1, 7) if b.label == "jam")
    control.press(jam)
    assert sims["locker"].calls[-1] == ("jam", {"board": 1, "lock": 7, "on": True})


def test_journey_buttons_blink_paper_and_compartments_by_their_door_ids(server) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    control = PanelControl(srv.path, compartments=[("A01", 0, 0), ("C04", 1, 3)])
    ok, devices = control.devices()
    face = control.buttons("face_camera", devices["face_camera"])
    blink = next(b for b in face if b.label == "card holder blinks")
    assert Path(blink.args["path"]).is_dir() and len(list(Path(blink.args["path"]).glob("*.jpg"))) == 12
    control.press(blink)
    assert sims["face_camera"].calls[-1] == ("show", {"path": blink.args["path"]})
    close = next(b for b in control.compartment_buttons("locker", "C04") if b.label == "close door")
    control.press(close)
    assert sims["locker"].calls[-1] == ("close", {"board": 1, "lock": 3})
    assert control.compartment_buttons("locker", "Z99") == []


def test_errors_become_a_line_not_a_crash(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv, _ = server
    control = PanelControl(srv.path)
    missing = control.buttons("fingerprint", {"lift": ""})[0]
    assert "no simulator 'fingerprint'" in control.press(missing)
    bad = next(b for b in control.lock_buttons("locker", 0, 99) if b.label == "jam")
    assert "no lock 99" in control.press(bad)
    nowhere = PanelControl(tmp_path / "nothing.sock")
    ok, message = nowhere.devices()
    assert not ok and "kiosk sim all" in message


def _panel(socket_path: str, press: str, tmp_path: Path) -> dict:
    result = tmp_path / "panel.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "ui_support" / "panel_run.py"), socket_path, str(result), press],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0 and result.exists(), proc.stderr[-3000:]
    return json.loads(result.read_text())


@pytest.mark.timeout(90)
def test_panel_window_builds_and_presses(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    seen = _panel(srv.path, "sees someone else", tmp_path)
    assert seen["status"] == "4 simulators"
    assert "place card: zhang_san" in seen["buttons"] and "jam" in seen["buttons"]
    assert seen["after_press"].startswith("face_camera show:")
    assert sims["face_camera"].calls == [("show", {"scene": "other_person"})]


@pytest.mark.timeout(90)
def test_panel_window_without_simulators_shows_the_error(tmp_path: Path) -> None:
    seen = _panel(str(tmp_path / "none.sock"), "", tmp_path)
    assert seen["status"].startswith("ERROR no control socket")
    assert seen["buttons"] == ["refresh"]
