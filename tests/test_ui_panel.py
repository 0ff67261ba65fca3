"""The simulator panel: buttons from the simulators' own action lists, errors shown, never a crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devices.camera.scenes import PERSON_OF_PHOTO, SCENES, build_scene
from devices.idcard.sample_cards import sample_cards
from devices.sim_control import SimControlServer
from kiosk.panel.control import PanelControl

ROOT = Path(__file__).resolve().parents[1]


class FakeSim:
    """A controllable like the real simulators: ctl_ actions with one-line docs."""

    def __init__(self, name: str, actions: dict[str, str]) -> None:
        self.name = name
        self._actions = actions
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.card: str | None = None  # the idcard fake's card on the reader

    def actions(self) -> dict[str, str]:
        return dict(self._actions)

    def control(self, action: str, **args: Any) -> Any:
        if action not in self._actions:
            raise KeyError(f"unknown action {action!r}")
        if action == "cards":
            return {"zhang_san": "张三 …", "li_si": "李四 …", "blank": "no face photo"}
        if action == "state":
            return {"card": self.card}
        if action == "jam" and args.get("lock", 0) > 48:
            raise ValueError(f"no lock {args['lock']}")
        self.calls.append((action, args))
        if action == "insert":
            self.card = args["card"]
        return {"did": action, **args}


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    sims = {
        "idcard": FakeSim(
            "idcard",
            {"insert": "Place a card", "remove": "Lift", "cards": "List", "state": "", "unplug": "", "plug": ""},
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
    place = next(b for b in control.buttons("idcard", devices["idcard"]) if b.args.get("card") == "zhang_san")
    control.press(place)
    blink = next(b for b in face if b.label == "card holder blinks")
    line = control.press(blink)
    assert sims["face_camera"].calls[-1] == ("show", {"scene": "blink_obama_2"}), line
    assert len(build_scene("blink_obama_2")) == 12
    close = next(b for b in control.compartment_buttons("locker", "C04") if b.label == "close door")
    control.press(close)
    assert sims["locker"].calls[-1] == ("close", {"board": 1, "lock": 3})
    assert control.compartment_buttons("locker", "Z99") == []


def _card_person(card: str) -> tuple[str, str]:
    stem = Path(str(sample_cards()[card].photo)).stem
    return stem, PERSON_OF_PHOTO[stem]


def test_one_blink_per_card_of_that_cards_person_from_another_photo(server) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    control = PanelControl(srv.path)
    ok, devices = control.devices()
    face = {b.label: b for b in control.buttons("face_camera", devices["face_camera"])}
    for card in ("zhang_san", "li_si"):  # the cards the idcard simulator offers
        button = face[f"{card} blinks"]
        assert button.action == "show" and set(button.args) == {"scene"}
        scene = button.args["scene"]
        stem, person = _card_person(card)
        assert scene in SCENES and scene != f"blink_{stem}"
        assert PERSON_OF_PHOTO[scene.removeprefix("blink_")] == person
    assert face["zhang_san blinks"].args != face["li_si blinks"].args  # two different people
    control.press(face["li_si blinks"])
    assert sims["face_camera"].calls[-1] == ("show", {"scene": face["li_si blinks"].args["scene"]})
    # a card whose holder has no known real face says so, on the button and when pressed
    blank = face["blank: no face photo"]
    assert "no real face" in control.press(blank)
    assert {"sees someone else", "sees a printed photo", "sees nobody"} <= set(face)
    assert len(sims["face_camera"].calls) == 1


def test_card_holder_blinks_follows_the_card_on_the_reader(server) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    control = PanelControl(srv.path)
    ok, devices = control.devices()
    face = {b.label: b for b in control.buttons("face_camera", devices["face_camera"])}
    holder = face["card holder blinks"]
    assert "no card on the ID card reader" in control.press(holder)
    assert sims["face_camera"].calls == []
    for card in ("li_si", "zhang_san"):
        control.press(next(b for b in control.buttons("idcard", devices["idcard"]) if b.args.get("card") == card))
        line = control.press(holder)
        assert line.startswith(f"{card} blinks → face_camera show:"), line
        assert sims["face_camera"].calls[-1] == ("show", face[f"{card} blinks"].args)
    sims["idcard"].card = "custom:1101**********1239"  # a card built field by field: no known face
    line = control.press(holder)
    assert "custom:1101**********1239" in line and "no real face photo" in line
    assert len(sims["face_camera"].calls) == 2


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
def test_panel_window_says_when_there_is_no_card_to_blink_for(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv, sims = server
    seen = _panel(srv.path, "card holder blinks", tmp_path)
    assert {"zhang_san blinks", "li_si blinks", "blank: no face photo"} <= set(seen["buttons"])
    assert seen["after_press"] == "card holder blinks: no card on the ID card reader; place one first"
    assert sims["face_camera"].calls == []


@pytest.mark.timeout(90)
def test_panel_window_without_simulators_shows_the_error(tmp_path: Path) -> None:
    seen = _panel(str(tmp_path / "none.sock"), "", tmp_path)
    assert seen["status"].startswith("ERROR no control socket")
    assert seen["buttons"] == ["refresh"]
