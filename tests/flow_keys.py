"""Every message key and action the flows and the host can publish, for the translation test.

Collected three ways so a new message cannot slip past: string literals in ``flows/`` and the host
that look like keys of the published namespaces, the enums whose values the flows publish as they
are (face hints and rejections, document retake reasons, device statuses and device names in
maintenance mode), and the ``code`` of every error class a flow shows verbatim (card read
failures, fingerprint "press again", staff and locker refusals, every locker-board failure a staff
door action can meet).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIXES = (
    "card", "face", "fingerprint", "guide", "document", "locker", "lockers", "door", "receipt", "flow",
    "staff", "results", "idle", "oos", "maintenance",
)
_LITERAL = re.compile(r"[\"']((?:" + "|".join(PREFIXES) + r")\.[a-z_]+(?:\.[a-z_]+)*)[\"']")
_ACTIONS = re.compile(r"actions=\(([^)]*)\)|idle_actions = \(([^)]*)\)|[A-Z_]+_ACTIONS = \(([^)]*)\)")
_QUOTED = re.compile(r"\"([a-z_]+)\"")
SOURCES = ("flows/*.py", "kiosk/host.py")
NO_VIEWS = {"door_entry.py", "crashpoints.py", "recovery.py"}  # publish no View (audit kinds, test hooks)


def _files() -> list[Path]:
    return [p for pattern in SOURCES for p in sorted(ROOT.glob(pattern)) if p.name not in NO_VIEWS]


def literal_keys() -> set[str]:
    keys: set[str] = set()
    for path in _files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "crashpoints.reached" not in line:
                keys |= set(_LITERAL.findall(line))
    return keys


def enum_keys() -> set[str]:
    from devices.document.quality import RetakeReason
    from devices.face.quality import FaceInstruction
    from devices.face.session import FaceRejectReason

    keys = {i.value for i in FaceInstruction} | {r.value for r in FaceRejectReason}
    keys |= {f"document.retake.{r.value}" for r in RetakeReason}
    # maintenance mode lists every configurable device with its status
    from devices.status import DeviceStatus
    from kiosk.config import ALL_DEVICES

    keys |= {f"status.{s.value}" for s in DeviceStatus} | {f"device.{d}" for d in ALL_DEVICES}
    return keys


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out.add(sub)
        out |= _subclasses(sub)
    return out


def error_keys() -> set[str]:
    """Codes of errors the flows put on screen as they are."""
    import flows.errors  # noqa: F401
    import locker.errors  # noqa: F401
    import locker.staff  # noqa: F401
    from devices import errors as device_errors
    from devices.fingerprint import FingerprintUserError
    from devices.idcard.errors import IdCardError
    from devices.lockerboard import DoorJammed, LockerError, LockOutcomeUnknown
    from flows.errors import FlowError
    from locker.compartments import LockerServiceError
    from locker.staff import StaffError

    classes = {IdCardError, StaffError, LockerServiceError, FlowError, DoorJammed, LockOutcomeUnknown, LockerError}
    # LockerError: the staff flow shows any locker-board failure of a door action by its code
    for base in (IdCardError, FingerprintUserError, StaffError, LockerServiceError, FlowError, LockerError):
        classes |= _subclasses(base)
    # the card prompt shows whatever the reader raised: the shared device errors too
    shared = vars(device_errors).values()
    classes |= {c for c in shared if isinstance(c, type) and c.__module__ == device_errors.__name__}
    codes = {c.code for c in classes if isinstance(getattr(c, "code", None), str)}
    return codes | instance_codes()


def instance_codes() -> set[str]:
    """Codes given to one error where it is raised (``code="idcard.bad_command"``), not on its class."""
    found: set[str] = set()
    for path in sorted((ROOT / "devices" / "idcard").glob("*.py")):
        found |= set(re.findall(r"code=\"([a-z_]+\.[a-z_]+)\"", path.read_text(encoding="utf-8")))
    return found


def action_keys() -> set[str]:
    keys = {"action.cancel"}
    for path in _files():
        for group in _ACTIONS.findall(path.read_text(encoding="utf-8")):
            for names in group:
                keys |= {f"action.{a}" for a in _QUOTED.findall(names)}
    return keys


def all_keys() -> set[str]:
    return literal_keys() | enum_keys() | error_keys() | action_keys()
