"""Locker boards on a simulated RS-485 bus, at the far end of a pty, with doors and people.

Each board speaks its configured protocol's exact bytes. A board that is not present or has no
power stays silent, like on a real RS-485 bus. Doors are physical: an accepted open pulse
releases the latch and the spring swings the door ajar; it stays open until the simulated person
closes it. Power loss keeps every door as it is and never opens anything when power returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from devices.errors import ProtocolError
from devices.lockerboard.messages import (
    DoorState,
    OpenAnswer,
    OpenRequest,
    StatusAnswer,
    StatusRequest,
)
from devices.lockerboard.protocols import BoardProtocol, get_protocol
from devices.pty_sim import PtySimulator

log = logging.getLogger(__name__)


@dataclass
class _Board:
    protocol: BoardProtocol
    locks: int
    powered: bool = True
    open_doors: set[int] = field(default_factory=set)
    jammed: set[int] = field(default_factory=set)
    # Jammed lock that got a pulse: latch released but the door stuck in its frame.
    stuck_unlatched: set[int] = field(default_factory=set)
    open_commands: dict[int, int] = field(default_factory=dict)


class LockerSimulator(PtySimulator):
    """Several locker boards sharing one simulated bus."""

    name = "lockerboard"

    def __init__(
        self,
        *,
        baudrate: int = 9600,
        pacing: bool = True,
        link: str | None = None,
        boards: dict[int, str] | None = None,
        locks_per_board: int = 48,
        auto_close_after: float | None = None,
    ) -> None:
        super().__init__(baudrate=baudrate, pacing=pacing, link=link)
        self.boards: dict[int, _Board] = {}
        for address, proto_name in (boards or {0: "cu48"}).items():
            proto = get_protocol(proto_name)
            self.boards[address] = _Board(proto, min(locks_per_board, proto.locks_per_board))
        self.auto_close_after = auto_close_after
        self.request_log: list[tuple[float, str, int, int | None]] = []  # (monotonic, kind, board, lock)
        self._buf = bytearray()
        self._corrupt = 0
        self._lock = threading.RLock()
        # All boards on one bus share framing start bytes; the first board's protocol frames requests.
        self._framer = next(iter(self.boards.values())).protocol

    # -- wire ---------------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self._buf += data
        framer = self._framer
        while self._buf:
            if self._buf[0] != framer.start_byte:
                del self._buf[0]  # noise or a partial frame: resynchronise on the start byte
                continue
            if len(self._buf) < framer.request_header_length:
                return
            try:
                length = framer.request_length(bytes(self._buf[: framer.request_header_length]))
            except ProtocolError:
                del self._buf[0]
                continue
            if len(self._buf) < length:
                return
            frame = bytes(self._buf[:length])
            try:
                request = framer.parse_request(frame)
            except ProtocolError as exc:
                log.debug("lockerboard sim: ignoring bad frame %s (%s)", frame.hex(" "), exc)
                del self._buf[0]
                continue
            del self._buf[:length]
            self._handle(request)

    def _handle(self, request: OpenRequest | StatusRequest) -> None:
        with self._lock:
            lock = request.lock if isinstance(request, OpenRequest) else None
            kind = "open" if isinstance(request, OpenRequest) else "status"
            self.request_log.append((time.monotonic(), kind, request.board, lock))
            board = self.boards.get(request.board)
            if board is None or not board.powered:
                return  # nobody at that address answers on RS-485
            if isinstance(request, OpenRequest):
                answer = board.protocol.encode_open_answer(self._pulse(request.board, board, request.lock))
            else:
                doors = {
                    i: DoorState.OPEN if i in board.open_doors else DoorState.CLOSED
                    for i in range(board.protocol.locks_per_board)
                }
                answer = board.protocol.encode_status_answer(StatusAnswer(request.board, doors))
            if self._corrupt > 0:
                self._corrupt -= 1
                answer = answer[:-1] + bytes([answer[-1] ^ 0xFF])
        self.send(answer)

    def _pulse(self, address: int, board: _Board, lock: int) -> OpenAnswer:
        if lock >= board.locks:
            return OpenAnswer(address, lock, accepted=False)  # no lock fitted at that output
        board.open_commands[lock] = board.open_commands.get(lock, 0) + 1
        if lock in board.jammed:
            board.stuck_unlatched.add(lock)
        else:
            board.open_doors.add(lock)
            if self.auto_close_after is not None:
                timer = threading.Timer(self.auto_close_after, self.ctl_close, (address, lock))
                timer.daemon = True
                timer.start()
        return OpenAnswer(address, lock, accepted=True)

    def _board(self, board: int) -> _Board:
        if board not in self.boards:
            raise KeyError(f"no board {board} on the simulated bus (boards: {sorted(self.boards)})")
        return self.boards[board]

    # -- control ------------------------------------------------------------------------------
    def ctl_close(self, board: int, lock: int) -> dict[str, Any]:
        """The person pushes a door shut; the latch catches it."""
        with self._lock:
            b = self._board(board)
            b.open_doors.discard(lock)
            b.stuck_unlatched.discard(lock)
        return {"board": board, "lock": lock, "open": False}

    def ctl_open(self, board: int, lock: int) -> dict[str, Any]:
        """The person pulls a door: opens only if its latch is released (a jammed door after a pulse)."""
        with self._lock:
            b = self._board(board)
            if lock in b.stuck_unlatched:
                b.stuck_unlatched.discard(lock)
                b.open_doors.add(lock)
            return {"board": board, "lock": lock, "open": lock in b.open_doors}

    def ctl_force_open(self, board: int, lock: int) -> dict[str, Any]:
        """Someone forces a door open with no command (tamper)."""
        with self._lock:
            self._board(board).open_doors.add(lock)
        return {"board": board, "lock": lock, "open": True}

    def ctl_jam(self, board: int, lock: int, on: bool = True) -> dict[str, Any]:
        """Jam a door: open pulses are accepted but the door stays closed."""
        with self._lock:
            b = self._board(board)
            if on:
                b.jammed.add(lock)
            else:
                b.jammed.discard(lock)
        return {"board": board, "lock": lock, "jammed": on}

    def ctl_power(self, board: int, on: bool = False) -> dict[str, Any]:
        """Cut or restore one board's power; doors keep their state, nothing opens by itself."""
        with self._lock:
            self._board(board).powered = on
        return {"board": board, "powered": on}

    def ctl_corrupt(self, times: int = 1) -> dict[str, Any]:
        """Spoil the SUM byte of the next ``times`` answers (line noise)."""
        with self._lock:
            self._corrupt = times
        return {"corrupt": times}

    def ctl_state(self) -> dict[str, Any]:
        """Open doors, jammed locks, open commands per lock and board power."""
        state = super().ctl_state()
        with self._lock:
            state.update(
                open_doors=[[a, i] for a, b in sorted(self.boards.items()) for i in sorted(b.open_doors)],
                jammed=[[a, i] for a, b in sorted(self.boards.items()) for i in sorted(b.jammed)],
                open_commands={
                    f"{a}:{i}": n for a, b in sorted(self.boards.items()) for i, n in sorted(b.open_commands.items())
                },
                powered={str(a): b.powered for a, b in sorted(self.boards.items())},
                requests=len(self.request_log),
            )
        return state
