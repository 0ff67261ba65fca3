"""The entrance door wired to one output of a locker board instead of a separate relay module.

A CU48-type output only pulses (the board times it), so ``open_for`` cannot hold the door strike
for a chosen time: it sends one pulse and the strike's own mechanism (or a fail-secure strike with
memory) keeps the door free until it is pushed. ``release`` has nothing to switch off; nothing
stays energised across a crash either.
"""

from __future__ import annotations

import logging

from devices.lockerboard.driver import LockerBus
from devices.relay.base import DoorRelay
from devices.relay.errors import RelayConfigError
from devices.status import DeviceStatus

log = logging.getLogger(__name__)


class BoardChannelRelay(DoorRelay):
    """Door relay = lock output ``lock`` of board ``board`` on a ``LockerBus``."""

    def __init__(self, bus: LockerBus, board: int, lock: int, *, name: str = "door_relay") -> None:
        super().__init__(name)
        if board not in bus.boards:
            raise RelayConfigError(f"board {board} is not on the locker bus", device=name)
        bus.boards[board].check_address(board, lock)
        self.bus = bus
        self.board = board
        self.lock = lock
        bus.status.subscribe(lambda change: self.status.set(change.new, change.detail))
        self.status.set(bus.status.status, bus.status.detail)

    def open_for(self, seconds: float) -> None:
        """One pulse on the board output; ``seconds`` is checked but the board sets the length."""
        if seconds <= 0:
            raise RelayConfigError(f"door open time {seconds} s", device=self.name)
        self.bus.open_lock(self.board, self.lock)
        log.info("%s: pulsed board %d output %d", self.name, self.board, self.lock)

    def release(self) -> None:
        """Nothing to switch off: the output is a pulse timed by the board."""

    def _switch(self, on: bool) -> None:  # pragma: no cover - open_for/release are overridden
        if on:
            self.bus.open_lock(self.board, self.lock)

    def probe(self) -> str:
        states = self.bus.door_states(self.board)
        self.status.set(DeviceStatus.ONLINE, "")
        return f"door relay on locker board {self.board} output {self.lock} ({len(states)} outputs)"
