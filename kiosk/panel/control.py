"""What the simulator panel can do, without Kivy: ask the control socket, build the button list.

Buttons come from the server's ``list`` answer (every simulator's ``ctl_`` actions that need no
arguments) plus curated ones with arguments (place this card, show that scene, jam this lock).
The face camera gets a blink per prepared card ("li_si blinks": that card's holder, recorded from
another photo of them, ``devices.camera.scenes.blink_scene_for_card_photo``) and "card holder
blinks", which asks the ID card simulator which card is on the reader when it is pressed.
Every call returns a one-line result instead of raising, so a missing simulator or a stopped
``kiosk sim all`` shows up as an error line on the panel, never as a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from devices.camera.scenes import blink_scene_for_card_photo
from devices.idcard.sample_cards import sample_cards
from devices.sim_control import send_control

# actions that only make sense with arguments, or that curated buttons cover better
NEEDS_ARGS = {"insert", "show", "place", "tap", "open", "close", "force_open", "jam", "power", "set"}
ROOT = Path(__file__).resolve().parents[2]
# resolved when pressed: the blink of whoever's card is on the ID card reader at that moment
CARD_HOLDER = "card_holder"
# an A4 form the scanner takes at once (the simulator's own "document" scene reads as glare)
PAPER_A4 = ROOT / "assets" / "sim" / "camera" / "paper_a4.jpg"
DEMO_BADGE, DEMO_PIN = "04A1B2C3", "123456"  # seeded by the runtime in simulator mode
HELP = (
    "Deposit: idle 开始办理 → place card: zhang_san → face camera: card holder blinks (or <card> blinks) → "
    "fingerprint: place enrolled finger, lift, place again → choose a service → document camera: page: A4 form, "
    "拍照 → size → close that compartment's door. Staff: staff_reader 'tap staff "
    f"badge' ({DEMO_BADGE}), PIN {DEMO_PIN}. Results: 领取材料 → ID card + blink, or pickup code + finger."
)
FACE_SCENES = (
    ("card_holder", "the card holder"),
    ("other_person", "someone else"),
    ("printed_photo", "a printed photo"),
    ("nobody", "nobody"),
)
# any name is one finger: the deposit enrols whichever finger is placed, results compare with it
FINGERS = (("zhang-right-index", "enrolled finger"), ("mallory-left-thumb", "other finger"))


@dataclass(frozen=True)
class PanelButton:
    label: str
    device: str
    action: str
    args: dict[str, Any] = field(default_factory=dict)
    resolve: str = ""  # CARD_HOLDER: the args are found when pressed (the card on the reader then)
    note: str = ""  # with no action: pressing only shows this line (e.g. a card without a face)


def card_blink_scenes() -> dict[str, str | None]:
    """Each prepared card's blink scene for the face camera; None when its photo is no real face."""
    return {name: blink_scene_for_card_photo(card.photo) for name, card in sample_cards().items()}


Sender = Callable[..., Any]


class PanelControl:
    """Talks to ``kiosk sim all``'s control socket; ``send`` is replaceable for tests."""

    def __init__(
        self,
        socket_path: str | Path,
        sender: Sender = send_control,
        timeout: float = 3.0,
        compartments: list[tuple[str, int, int]] | None = None,
    ) -> None:
        self.path = str(socket_path)
        self.sender = sender
        self.timeout = timeout
        self.compartments = list(compartments or [])  # (id, board, lock) from the configuration
        self.listing: dict[str, dict[str, str]] = {}  # the last ``list`` answer
        self.blink_scenes = card_blink_scenes()

    def call(self, device: str, action: str, **args: Any) -> tuple[bool, Any]:
        """(True, result) or (False, one-line error)."""
        try:
            return True, self.sender(self.path, device, action, timeout=self.timeout, **args)
        except FileNotFoundError:
            return False, f"no control socket at {self.path}: is `kiosk sim all` running?"
        except (OSError, RuntimeError, ValueError) as exc:
            return False, f"{device} {action}: {exc}"

    def devices(self) -> tuple[bool, dict[str, dict[str, str]] | str]:
        ok, result = self.call("all", "list")
        if ok and not isinstance(result, dict):
            return False, f"unexpected list answer: {result!r}"
        if ok:
            self.listing = result
        return ok, result

    def buttons(self, device: str, actions: dict[str, str]) -> list[PanelButton]:
        """Curated buttons first, then every argument-free action of the simulator."""
        out = self._curated(device, actions)
        covered = {(b.action, tuple(sorted(b.args.items()))) for b in out}
        for action in sorted(actions):
            if action in NEEDS_ARGS or (action, ()) in covered:
                continue
            out.append(PanelButton(action.replace("_", " "), device, action))
        return out

    def _curated(self, device: str, actions: dict[str, str]) -> list[PanelButton]:
        out: list[PanelButton] = []
        if "insert" in actions:
            ok, cards = self.call(device, "cards") if "cards" in actions else (False, None)
            names = sorted(cards) if ok and isinstance(cards, dict) else ["zhang_san"]
            out += [PanelButton(f"place card: {n}", device, "insert", {"card": n}) for n in names]
        if "show" in actions:
            if "document" in device:
                out.append(PanelButton("page: A4 form", device, "show", {"path": str(PAPER_A4)}))
                out.append(PanelButton("page with glare", device, "show", {"scene": "document"}))
                out.append(PanelButton("no page", device, "show", {"scene": "nobody"}))
            else:
                out += self._blink_buttons(device)
                out += [PanelButton(f"sees {label}", device, "show", {"scene": s}) for s, label in FACE_SCENES]
        if "place" in actions:
            out += [PanelButton(f"place {label}", device, "place", {"finger": f}) for f, label in FINGERS]
            if "bad_image" in actions:
                out.append(PanelButton("bad image", device, "bad_image", {"kind": "messy"}))
        if "tap" in actions:
            label = "tap the card at the door" if device == "door_reader" else "tap staff badge"
            out.append(PanelButton(label, device, "tap", {"uid": DEMO_BADGE, "kind": "badge"}))
        if "set" in actions:
            out.append(PanelButton("relay on", device, "set", {"channel": 1, "on": True}))
            out.append(PanelButton("relay off", device, "set", {"channel": 1, "on": False}))
        return out

    def _idcard_device(self) -> str:
        """The ID card reader simulator's name in the last listing ("idcard" in ``kiosk sim all``)."""
        found = [n for n, actions in self.listing.items() if {"insert", "cards", "state"} <= set(actions)]
        return found[0] if found else "idcard"

    def _blink_buttons(self, device: str) -> list[PanelButton]:
        """The "card holder blinks" button, then one "<card> blinks" per card the ID card simulator offers."""
        out = [PanelButton("card holder blinks", device, "show", resolve=CARD_HOLDER)]
        ok, cards = self.call(self._idcard_device(), "cards")
        names = sorted(cards) if ok and isinstance(cards, dict) else sorted(self.blink_scenes)
        for name in names:
            scene = self.blink_scenes.get(name)
            if scene is None:
                note = f"{name}: the card's photo is no real face, so no recorded blink matches it"
                out.append(PanelButton(f"{name}: no face photo", device, "", note=note))
            else:
                out.append(PanelButton(f"{name} blinks", device, "show", {"scene": scene}))
        return out

    def resolve(self, button: PanelButton) -> tuple[PanelButton | None, str]:
        """A "card holder blinks" button made concrete from the card on the reader now, or why not."""
        if button.resolve != CARD_HOLDER:
            return button, ""
        idcard = self._idcard_device()
        ok, state = self.call(idcard, "state")
        if not ok:
            return None, f"ERROR card holder blinks: cannot ask {idcard} which card is on it: {state}"
        card = state.get("card") if isinstance(state, dict) else None
        if not card:
            return None, "card holder blinks: no card on the ID card reader; place one first"
        scene = self.blink_scenes.get(card)
        if scene is None:
            return None, f"card holder blinks: the card on the reader ({card}) has no real face photo to blink"
        return replace(button, args={"scene": scene}, resolve=""), f"{card} blinks → "

    def compartment_buttons(self, device: str, compartment_id: str) -> list[PanelButton]:
        """Door controls for a compartment named as on its door (A01…), from the configuration."""
        spec = next((c for c in self.compartments if c[0] == compartment_id), None)
        if spec is None:
            return []
        return self.lock_buttons(device, spec[1], spec[2])

    def lock_buttons(self, device: str, board: int, lock: int) -> list[PanelButton]:
        """Door controls for one compartment of the locker simulator."""
        where = {"board": board, "lock": lock}
        return [
            PanelButton("resident opens door", device, "open", where),
            PanelButton("close door", device, "close", where),
            PanelButton("jam", device, "jam", {**where, "on": True}),
            PanelButton("unjam", device, "jam", {**where, "on": False}),
        ]

    def press(self, button: PanelButton) -> str:
        """Run a button; the line for the status bar."""
        if not button.action:
            return button.note
        concrete, prefix = self.resolve(button)
        if concrete is None:
            return prefix
        ok, result = self.call(concrete.device, concrete.action, **concrete.args)
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
        line = f"{prefix}{concrete.device} {concrete.action}: {text}" if ok else f"ERROR {prefix}{result}"
        return line if len(line) <= 300 else line[:297] + "…"
