"""What the simulator panel can do, without Kivy: ask the control socket, build the button list.

Buttons come from the server's ``list`` answer (every simulator's ``ctl_`` actions that need no
arguments) plus curated ones with arguments (place this card, show that scene, jam this lock).
Every call returns a one-line result instead of raising, so a missing simulator or a stopped
``kiosk sim all`` shows up as an error line on the panel, never as a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.sim_control import send_control

# actions that only make sense with arguments, or that curated buttons cover better
NEEDS_ARGS = {"insert", "show", "place", "tap", "open", "close", "force_open", "jam", "power", "set"}
FACE_SCENES = (
    ("card_holder", "the card holder"),
    ("other_person", "someone else"),
    ("printed_photo", "a printed photo"),
    ("nobody", "nobody"),
)
FINGERS = (("alice-right-index", "enrolled finger"), ("mallory-left-thumb", "other finger"))


@dataclass(frozen=True)
class PanelButton:
    label: str
    device: str
    action: str
    args: dict[str, Any] = field(default_factory=dict)


Sender = Callable[..., Any]


class PanelControl:
    """Talks to ``kiosk sim all``'s control socket; ``send`` is replaceable for tests."""

    def __init__(self, socket_path: str | Path, sender: Sender = send_control, timeout: float = 3.0) -> None:
        self.path = str(socket_path)
        self.sender = sender
        self.timeout = timeout

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
                out.append(PanelButton("page: application form", device, "show", {"scene": "document"}))
                out.append(PanelButton("no page", device, "show", {"scene": "nobody"}))
            else:
                out += [PanelButton(f"sees {label}", device, "show", {"scene": s}) for s, label in FACE_SCENES]
        if "place" in actions:
            out += [PanelButton(f"place {label}", device, "place", {"finger": f}) for f, label in FINGERS]
            if "bad_image" in actions:
                out.append(PanelButton("bad image", device, "bad_image", {"kind": "messy"}))
        if "tap" in actions:
            out.append(PanelButton("tap staff badge", device, "tap", {"uid": "04A1B2C3", "kind": "badge"}))
        if "set" in actions:
            out.append(PanelButton("relay on", device, "set", {"channel": 1, "on": True}))
            out.append(PanelButton("relay off", device, "set", {"channel": 1, "on": False}))
        return out

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
        ok, result = self.call(button.device, button.action, **button.args)
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)
        line = f"{button.device} {button.action}: {text}" if ok else f"ERROR {result}"
        return line if len(line) <= 300 else line[:297] + "…"
