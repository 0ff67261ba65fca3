"""Polls the door sensors and turns changes into events the locker layer acts on.

Why a watcher and not just "open, then read once": a door is only known to be open when its
sensor says so. The watcher confirms commanded opens (``JAMMED`` when the sensor never shows the
door open within ``confirm_within``), flags doors opened with no command (``OPENED_UNEXPECTEDLY``:
forced door, or a board that glitched), and reminds about doors left open (``LEFT_OPEN``).
Listeners run on the watcher thread; a Kivy app hands them on with ``Clock.schedule_once``.

Limit: a door opened and closed again between two polls is not seen; with the default 0.5 s
poll that needs a very quick hand, and a commanded one then shows up as ``JAMMED``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled, DeviceError
from devices.listeners import Listeners
from devices.lockerboard.driver import LockerBus
from devices.lockerboard.errors import DoorJammed
from devices.lockerboard.messages import DoorState

log = logging.getLogger(__name__)


class DoorEventKind(StrEnum):
    OPENED = "opened"  # a door opened after an open command
    OPENED_UNEXPECTEDLY = "opened_unexpectedly"  # a door opened with no command: alert staff
    CLOSED = "closed"
    JAMMED = "jammed"  # commanded open, sensor still closed after confirm_within
    LEFT_OPEN = "left_open"  # open for longer than left_open_after (once per opening)
    BOARD_SILENT = "board_silent"
    BOARD_BACK = "board_back"


@dataclass(frozen=True)
class DoorEvent:
    kind: DoorEventKind
    board: int
    lock: int | None = None  # None for board events
    at: float = field(default_factory=time.time)


DoorListener = Callable[[DoorEvent], None]


class DoorWatcher:
    """Background poller of every board on a ``LockerBus``."""

    def __init__(
        self,
        bus: LockerBus,
        *,
        interval: float = 0.5,
        confirm_within: float = 3.0,
        left_open_after: float | None = 120.0,
    ) -> None:
        self.bus = bus
        self.interval = interval
        self.confirm_within = confirm_within
        self.left_open_after = left_open_after
        self._listeners: Listeners[DoorEvent] = Listeners()
        self._known: dict[int, dict[int, DoorState]] = {}
        self._open_since: dict[tuple[int, int], float] = {}
        self._reminded: set[tuple[int, int]] = set()
        self._pending: dict[tuple[int, int], float] = {}  # commanded opens not yet confirmed
        self._seen_commands: dict[tuple[int, int], float] = dict(bus.open_commands())
        self._silent: set[int] = set()
        self._stop = CancelToken()
        self._thread: threading.Thread | None = None

    @property
    def has_baseline(self) -> bool:
        """True once every board answered at least one poll (changes are judged against that)."""
        return set(self._known) >= set(self.bus.boards)

    def subscribe(self, listener: DoorListener) -> Callable[[], None]:
        return self._listeners.add(listener)

    # -- thread -------------------------------------------------------------------------------
    def start(self) -> DoorWatcher:
        if self._thread is None or not self._thread.is_alive():
            self._stop = CancelToken()
            self._thread = threading.Thread(target=self._run, name="door-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.cancelled:
            try:
                self.poll_once()
            except DeviceError as exc:  # port lost: keep polling, the bus reopens it
                log.warning("door watcher: %s", exc)
            except Exception:  # a listener bug must not stop door supervision
                log.exception("door watcher poll failed")
            self._stop.wait(self.interval)

    # -- one poll (also called directly by tests) ---------------------------------------------
    def poll_once(self) -> list[DoorEvent]:
        """Read every board once and return (and publish) the events this poll produced."""
        now = time.monotonic()
        events: list[DoorEvent] = []
        for key, sent in self.bus.open_commands().items():
            if self._seen_commands.get(key) != sent:
                self._seen_commands[key] = sent
                self._pending[key] = sent
        states = self.bus.all_door_states(cancel=self._stop)
        for board in self.bus.boards:
            if board not in states:
                if board not in self._silent:
                    self._silent.add(board)
                    events.append(DoorEvent(DoorEventKind.BOARD_SILENT, board))
                continue
            if board in self._silent:
                self._silent.discard(board)
                events.append(DoorEvent(DoorEventKind.BOARD_BACK, board))
            events += self._compare(board, states[board], now)
        for key, sent in list(self._pending.items()):
            board, lock = key
            if board in self._silent:
                continue
            if now - sent >= self.confirm_within:
                del self._pending[key]
                events.append(DoorEvent(DoorEventKind.JAMMED, board, lock))
        for event in events:
            log.info("door %s: board %s lock %s", event.kind.value, event.board, event.lock)
            for listener in self._listeners:
                listener(event)
        return events

    def _compare(self, board: int, doors: dict[int, DoorState], now: float) -> list[DoorEvent]:
        events: list[DoorEvent] = []
        before = self._known.get(board)
        self._known[board] = doors
        for lock, state in doors.items():
            key = (board, lock)
            was = before.get(lock) if before is not None else None
            if state is DoorState.OPEN:
                if key in self._pending:
                    # Open now: confirmed, whether it changed this poll or was already open.
                    del self._pending[key]
                    if was is not DoorState.OPEN:
                        events.append(DoorEvent(DoorEventKind.OPENED, board, lock))
                elif was is DoorState.CLOSED:
                    events.append(DoorEvent(DoorEventKind.OPENED_UNEXPECTEDLY, board, lock))
                self._open_since.setdefault(key, now)
                if (
                    self.left_open_after is not None
                    and key not in self._reminded
                    and now - self._open_since[key] >= self.left_open_after
                ):
                    self._reminded.add(key)
                    events.append(DoorEvent(DoorEventKind.LEFT_OPEN, board, lock))
            else:
                if was is DoorState.OPEN:
                    events.append(DoorEvent(DoorEventKind.CLOSED, board, lock))
                self._open_since.pop(key, None)
                self._reminded.discard(key)
        return events


def wait_door_open(
    bus: LockerBus,
    board: int,
    lock: int,
    *,
    within: float = 3.0,
    interval: float = 0.5,
    cancel: CancelToken | None = None,
) -> None:
    """Block until the door sensor shows ``lock`` open; DoorJammed when it does not within ``within``.

    For a flow that opens one compartment and must not go on until the door really moved (or after
    ``LockOutcomeUnknown``, to settle whether the pulse happened). Never sends an open itself.
    """
    end = time.monotonic() + within
    while True:
        if bus.door_states(board, cancel=cancel).get(lock) is DoorState.OPEN:
            return
        left = end - time.monotonic()
        if left <= 0:
            raise DoorJammed(f"board {board} lock {lock}: door still closed after {within:.1f} s", device=bus.name)
        if cancel is not None:
            if cancel.wait(min(interval, left)):
                raise DeviceCancelled("waiting for the door cancelled", device=bus.name)
        else:
            time.sleep(min(interval, left))
