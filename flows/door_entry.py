"""Entrance door: a card at the outside reader opens the door relay for a few seconds after hours.

The door reader is PC/SC (a ``CardWatcher`` calls ``card_tapped(uid)``); what identifies a card is
its UID/serial, never personal data, and the audit log keeps it masked. The room is a 24-hour
self-service room, but only *after hours* does the door need the reader: during office hours the
centre itself is open, so a tap then is logged and refused ("come in through the centre").
A deny-list (lost or abused cards) is checked first.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from devices.errors import DeviceError
from devices.privacy import mask_uid
from devices.relay import DoorRelay
from flows.errors import FlowError
from locker.audit import AuditLog
from locker.staff import normalise_badge

log = logging.getLogger(__name__)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$"
)


class DoorScheduleError(FlowError):
    code = "door.schedule_invalid"


@dataclass(frozen=True)
class _Window:
    days: frozenset[int]  # weekday() numbers the window *starts* on
    start: int  # minutes after midnight
    end: int  # may be ≤ start: the window runs past midnight into the next day


class AfterHoursSchedule:
    """When the door reader may open the door, e.g. ``["mon-fri 17:30-08:30", "sat-sun 00:00-24:00"]``.

    A window whose end is before its start runs over midnight (Friday 17:30 → Saturday 08:30).
    """

    def __init__(self, rules: Iterable[str]) -> None:
        self.rules = tuple(rules)
        self.windows = tuple(self._parse(r) for r in self.rules)

    @staticmethod
    def _parse(rule: str) -> _Window:
        m = _RULE.match(rule.strip().lower())
        if not m:
            raise DoorScheduleError(f"door schedule rule {rule!r} is not like 'mon-fri 17:30-08:30'")
        try:
            d1 = _DAYS.index(m["d1"])
            d2 = _DAYS.index(m["d2"] or m["d1"])
        except ValueError:
            raise DoorScheduleError(f"door schedule rule {rule!r}: days are mon..sun") from None
        days = frozenset(range(d1, d2 + 1)) if d1 <= d2 else frozenset([*range(d1, 7), *range(0, d2 + 1)])
        h1, m1, h2, m2 = int(m["h1"]), int(m["m1"]), int(m["h2"]), int(m["m2"])
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
            raise DoorScheduleError(f"door schedule rule {rule!r}: bad time")
        return _Window(days, h1 * 60 + m1, h2 * 60 + m2)

    def allows(self, when: dt.datetime) -> bool:
        minute = when.hour * 60 + when.minute
        today, yesterday = when.weekday(), (when.weekday() - 1) % 7
        for w in self.windows:
            if w.end > w.start:
                if today in w.days and w.start <= minute < w.end:
                    return True
            else:  # over midnight (or the whole day when start == end == 0 and end is 24:00 written as 0)
                if today in w.days and minute >= w.start:
                    return True
                if yesterday in w.days and minute < w.end:
                    return True
        return False


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
