"""Entrance door: a card at the outside reader opens the door relay for a few seconds after hours.

The door reader is PC/SC (a ``CardWatcher`` calls ``card_tapped(uid)``); what identifies a card is
its UID/serial, never personal data, and the audit log keeps it masked. The room is a 24-hour
self-service room, but only *after hours* does the door need the reader: during office hours the
centre itself is open, so a tap then is logged and refused ("come in through the centre").
A deny-list (lost or abused cards) is checked first. What "after hours" means — weekdays, public
holidays, make-up working days, local closures — lives in ``flows.door_schedule``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path

from devices.errors import DeviceError
from devices.privacy import mask_uid
from devices.relay import DoorRelay
from flows.door_schedule import AfterHoursSchedule, DoorScheduleError  # noqa: F401 - re-exported: callers import them here
from flows.errors import FlowError
from locker.audit import AuditLog
from locker.staff import normalise_badge

log = logging.getLogger(__name__)

class DoorDecision(StrEnum):
    OPENED = "opened"
    DENIED_LIST = "denied_list"  # on the deny-list
    OUTSIDE_HOURS = "outside_hours"  # office hours: use the centre's own entrance
    RELAY_FAILED = "relay_failed"
    IGNORED = "ignored"  # the same card again while the door is still open


def load_deny_list(path: str | Path) -> set[str]:
    """One UID per line (hex, any case, separators allowed); '#' starts a comment."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise FlowError(f"cannot read the door deny-list {p}: {exc.strerror}") from exc
    return {normalise_badge(line.split("#", 1)[0]) for line in lines if line.split("#", 1)[0].strip()}


class DoorEntry:
    def __init__(
        self,
        relay: DoorRelay,
        audit: AuditLog,
        schedule: AfterHoursSchedule,
        *,
        deny: Iterable[str] = (),
        open_seconds: float = 5.0,
        now: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self.relay = relay
        self.audit = audit
        self.schedule = schedule
        self.deny = {normalise_badge(u) for u in deny}
        self.open_seconds = open_seconds
        self.now = now
        self._lock = threading.Lock()
        self._last: tuple[str, dt.datetime] | None = None

    def deny_card(self, uid: str, *, actor: str) -> None:
        uid = normalise_badge(uid)
        self.deny.add(uid)
        self.audit.append(actor, "door.deny_added", detail={"card": mask_uid(uid)})

    def card_tapped(self, uid: str) -> DoorDecision:
        """From the door reader's CardWatcher: decide, act, and log every entry attempt."""
        card = normalise_badge(uid)
        when = self.now()
        with self._lock:
            if self._last and self._last[0] == card and (when - self._last[1]).total_seconds() < self.open_seconds:
                return DoorDecision.IGNORED
            if card in self.deny:
                decision = DoorDecision.DENIED_LIST
            elif not self.schedule.allows(when):
                decision = DoorDecision.OUTSIDE_HOURS
            else:
                try:
                    self.relay.open_for(self.open_seconds)
                    decision = DoorDecision.OPENED
                    self._last = (card, when)
                except DeviceError as exc:
                    log.error("door relay failed: %s", exc)
                    decision = DoorDecision.RELAY_FAILED
            self.audit.append(
                "door",
                "door.entry" if decision is DoorDecision.OPENED else "door.refused",
                detail={
                    "card": mask_uid(card),
                    "decision": decision.value,
                    "at": when.isoformat(timespec="seconds"),
                },
            )
        log.info("door: card %s → %s", mask_uid(card), decision.value)
        return decision
